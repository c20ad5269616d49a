#define BOOST_TEST_MODULE sigma_shim_unit
#include <boost/test/unit_test.hpp>
