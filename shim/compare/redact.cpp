#include "compare/redact.hpp"
