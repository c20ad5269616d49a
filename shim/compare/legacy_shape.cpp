#include "compare/legacy_shape.hpp"
