#include "compare/path_glob.hpp"
