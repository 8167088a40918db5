#include "commands.hpp"
namespace intfa::bench {
int run_plot_command(const std::vector<std::string>&) { return 1; }
}
