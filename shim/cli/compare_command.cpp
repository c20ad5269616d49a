#include "cli/compare_command.hpp"
