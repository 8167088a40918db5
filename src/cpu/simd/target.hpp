// Per-function instruction-set regions for the ISA-specific translation units.
//
// The ISA files (avx2.cpp, avx512.cpp, ...) are compiled with the library's
// baseline flags; every function *defined* between INTFA_SIMD_TARGET_BEGIN and
// INTFA_SIMD_TARGET_END gets the ISA's target attribute. Headers (std::,
// intfa's own inline helpers) must be included *before* the region, so their
// inline functions and templates keep the baseline target: per-file -mavx512f
// would let the linker pick an AVX-512 copy of e.g. a std::vector member for
// the whole program, which then faults on a CPU without AVX-512.
#pragma once

#define INTFA_SIMD_PRAGMA(x) _Pragma(#x)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define INTFA_SIMD_X86 1
#if defined(__clang__)
#define INTFA_SIMD_TARGET_BEGIN(isa) \
  INTFA_SIMD_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define INTFA_SIMD_TARGET_END INTFA_SIMD_PRAGMA(clang attribute pop)
#else
#define INTFA_SIMD_TARGET_BEGIN(isa) \
  INTFA_SIMD_PRAGMA(GCC push_options) INTFA_SIMD_PRAGMA(GCC target(isa))
#define INTFA_SIMD_TARGET_END INTFA_SIMD_PRAGMA(GCC pop_options)
#endif
#else
#define INTFA_SIMD_X86 0
#endif

#define INTFA_SIMD_INLINE inline __attribute__((always_inline))
