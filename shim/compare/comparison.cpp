#include "compare/comparison.hpp"
