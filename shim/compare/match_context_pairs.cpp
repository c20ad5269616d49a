#include "compare/match_context_pairs.hpp"
