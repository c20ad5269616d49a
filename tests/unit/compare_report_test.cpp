// Comparison reports: text, JSON and HTML.
#include "compare/report.hpp"
