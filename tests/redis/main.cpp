#define BOOST_TEST_MODULE sigma_shim_redis
#include <boost/test/unit_test.hpp>
