# Asio, Asio SSL and Beast compiled once (net/boost_net.cpp) rather than inline in every unit that includes them.
# Needs BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION on every unit of the program, set in
# the top CMakeLists.txt: a unit without them would compile its own inline copy of the same functions.
# Every target that includes an Asio or Beast header links this library (through sigma_shim_net).
# Without sigma_shim_warnings: the unit is all Boost's code, and GCC 12 with the sanitizers finds
# -Wmaybe-uninitialized false positives in Beast's parser (a boost::optional return) once it is compiled as a
# whole here rather than inlined piecemeal into our units.
find_package(Threads REQUIRED)
add_library(sigma_shim_boost STATIC net/boost_net.cpp)
target_link_libraries(sigma_shim_boost PUBLIC Boost::headers OpenSSL::SSL OpenSSL::Crypto Threads::Threads)
