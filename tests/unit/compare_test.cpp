// The comparison engine on hand-made pairs.
#include "compare/comparison.hpp"
