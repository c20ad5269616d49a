// The one translation unit that compiles Asio's, Asio SSL's and Beast's non-template code. Every other unit is
// built with BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION (set project-wide in the top
// CMakeLists.txt) and so only declares that code: compiled here once instead of in each unit that uses it.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
