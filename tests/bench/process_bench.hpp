#pragma once
// The whole-process half of convert_bench: `sigma-shim convert` of a file, run as a child process, against a
// child that only parses and serializes the same bytes with Boost.JSON; wall time and peak RSS of each.
#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace bench {

// The reference child (`convert_bench --roundtrip FILE`): reads FILE, boost::json::parse with the default
// options and storage, boost::json::serialize, writes the text to standard output. Returns the exit status.
int roundtrip(const char* path);

struct ChildRun {
    double wall_ms = 0;   // spawn to reaped
    double cpu_ms = 0;    // user + system
    long peak_rss_kb = 0; // wait4's ru_maxrss
    int exit_status = -1; // -1 when it did not exit normally
};

// Runs argv[0] (a path) with standard output to /dev/null and standard error inherited, and waits for it.
ChildRun run_child(const std::vector<std::string>& argv);

struct ProcessComparison {
    std::size_t input_bytes = 0;
    std::string shim;
    long spawner_rss_kb = 0; // this process's peak when it spawned: a child's ru_maxrss is never below it
    std::vector<ChildRun> convert, roundtrip;
};

// `runs` times each, interleaved (the order alternates), after one untimed run of each. Throws when a child
// fails.
ProcessComparison compare_processes(const std::string& file, const std::string& shim, const std::string& self,
                                    int runs);

void print_process_comparison(const ProcessComparison& c, std::ostream& out);

} // namespace bench
