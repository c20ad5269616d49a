# Asio, Asio SSL and Beast compiled once (net/boost_net.cpp) rather than inline in every unit that includes them.
# Needs BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION on every unit of the program, set in
# the top CMakeLists.txt: a unit without them would compile its own inline copy of the same functions.
# Every target that includes an Asio or Beast header links this library.
find_package(Threads REQUIRED)
add_library(sigma_shim_net STATIC net/boost_net.cpp)
target_link_libraries(sigma_shim_net PUBLIC Boost::headers OpenSSL::SSL OpenSSL::Crypto Threads::Threads
                                     PRIVATE sigma_shim_warnings)
