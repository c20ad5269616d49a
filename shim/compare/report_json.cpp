#include "compare/report.hpp"
