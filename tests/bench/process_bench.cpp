#include "process_bench.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <iomanip>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/wait.h>

extern char** environ;

namespace bench {

namespace {

constexpr double goal_time_ratio = 1.0;
constexpr double goal_rss_ratio = 2.0;

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <typename F>
double median_of(const std::vector<ChildRun>& runs, F field) {
    std::vector<double> v;
    for (const auto& r : runs)
        v.push_back(field(r));
    return median(std::move(v));
}

double to_ms(const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
}

ChildRun checked(const std::vector<std::string>& argv) {
    auto r = run_child(argv);
    if (r.exit_status != 0) {
        std::string line;
        for (const auto& a : argv)
            line += (line.empty() ? "" : " ") + a;
        throw std::runtime_error(line + ": exit status " + std::to_string(r.exit_status));
    }
    return r;
}

} // namespace

int roundtrip(const char* path) {
    // The bytes are read the plain way (one read of the known size), so that the reference pays nothing the
    // shim would not have to.
    std::FILE* f = std::fopen(path, "rb");
    if (!f) {
        std::fprintf(stderr, "convert_bench --roundtrip: %s: %s\n", path, std::strerror(errno));
        return 1;
    }
    std::string bytes;
    char buf[1 << 16];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
        bytes.append(buf, n);
    std::fclose(f);
    boost::json::value v = boost::json::parse(bytes);
    const std::string text = boost::json::serialize(v);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
}

ChildRun run_child(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);

    // glibc's posix_spawn shares this process's memory until the exec (CLONE_VM | CLONE_VFORK), so the
    // child's ru_maxrss starts at this process's peak rather than at a copy of its pages, as after fork().
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = 0;
    const int err = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) throw std::runtime_error(argv[0] + ": " + std::strerror(err));
    int status = 0;
    rusage usage{};
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) throw std::runtime_error(std::string("wait4: ") + std::strerror(errno));
    }
    const auto end = std::chrono::steady_clock::now();
    ChildRun r;
    r.wall_ms = std::chrono::duration<double, std::milli>(end - start).count();
    r.cpu_ms = to_ms(usage.ru_utime) + to_ms(usage.ru_stime);
    r.peak_rss_kb = usage.ru_maxrss;
    r.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

ProcessComparison compare_processes(const std::string& file, const std::string& shim, const std::string& self,
                                    int runs) {
    ProcessComparison c;
    c.shim = shim;
    {
        std::FILE* f = std::fopen(file.c_str(), "rb");
        if (!f) throw std::runtime_error(file + ": " + std::strerror(errno));
        std::fseek(f, 0, SEEK_END);
        c.input_bytes = static_cast<std::size_t>(std::ftell(f));
        std::fclose(f);
    }
    const std::vector<std::string> convert{shim, "convert", "--file", file, "--form", "object"};
    const std::vector<std::string> reference{self, "--roundtrip", file};
    checked(convert); // untimed: the page cache, the binaries
    checked(reference);
    for (int i = 0; i < runs; ++i) {
        // Alternating which goes first cancels a steady drift of the machine's speed.
        if (i % 2 == 0) {
            c.convert.push_back(checked(convert));
            c.roundtrip.push_back(checked(reference));
        } else {
            c.roundtrip.push_back(checked(reference));
            c.convert.push_back(checked(convert));
        }
    }
    rusage self_usage{};
    getrusage(RUSAGE_SELF, &self_usage);
    c.spawner_rss_kb = self_usage.ru_maxrss;
    return c;
}

void print_process_comparison(const ProcessComparison& c, std::ostream& out) {
    auto wall = [](const ChildRun& r) { return r.wall_ms; };
    auto cpu = [](const ChildRun& r) { return r.cpu_ms; };
    auto rss = [](const ChildRun& r) { return static_cast<double>(r.peak_rss_kb); };
    auto max_rss = [](const std::vector<ChildRun>& v) {
        long m = 0;
        for (const auto& r : v)
            m = std::max(m, r.peak_rss_kb);
        return m;
    };
    const double mb = 1024.0 * 1024.0;
    const double input_mb = static_cast<double>(c.input_bytes) / mb;
    std::ostringstream t;
    t << std::fixed;
    t << "\nwhole process: (i) " << c.shim << " convert --file F --form object > /dev/null;\n"
      << "               (ii) convert_bench --roundtrip F > /dev/null (read, boost::json::parse, serialize)\n"
      << "F: the generated File object, " << c.input_bytes << " bytes (" << std::setprecision(1) << input_mb
      << " MiB); " << c.convert.size() << " runs each, interleaved; medians\n"
      << std::left << std::setw(36) << "child" << std::right << std::setw(10) << "wall ms" << std::setw(10)
      << "CPU ms" << std::setw(14) << "peak RSS MiB" << std::setw(12) << "max RSS MiB"
      << "\n";
    auto row = [&](const char* name, const std::vector<ChildRun>& v) {
        t << std::left << std::setw(36) << name << std::right << std::setprecision(1) << std::setw(10)
          << median_of(v, wall) << std::setw(10) << median_of(v, cpu) << std::setw(14)
          << median_of(v, rss) / 1024.0 << std::setw(12) << static_cast<double>(max_rss(v)) / 1024.0 << "\n";
    };
    row("(i) sigma-shim convert --form object", c.convert);
    row("(ii) Boost.JSON parse + serialize", c.roundtrip);

    const double time_ratio = median_of(c.convert, wall) / median_of(c.roundtrip, wall);
    const double rss_ratio = median_of(c.convert, rss) * 1024.0 / static_cast<double>(c.input_bytes);
    const double ref_rss_ratio = median_of(c.roundtrip, rss) * 1024.0 / static_cast<double>(c.input_bytes);
    t << "\n"
      << std::left << std::setw(58) << "goal (issue 15)" << std::right << std::setw(10) << "measured"
      << std::setw(8) << "goal" << std::setw(8) << "result"
      << "\n";
    t << std::left << std::setw(58) << "(i)/(ii) wall time, whole process" << std::right
      << std::setprecision(2) << std::setw(10) << time_ratio << std::setw(8) << "<= 1.0" << std::setw(8)
      << (time_ratio <= goal_time_ratio ? "PASS" : "MISS") << "\n";
    t << std::left << std::setw(58) << "(i) peak RSS / input size" << std::right << std::setw(10) << rss_ratio
      << std::setw(8) << "<= 2x" << std::setw(8) << (rss_ratio <= goal_rss_ratio ? "PASS" : "MISS") << "\n";
    t << std::left << std::setw(58) << "  for reference: (ii) peak RSS / input size" << std::right
      << std::setw(10) << ref_rss_ratio << "\n";
    t << std::left << std::setw(58) << "  for reference: (i)/(ii) CPU time" << std::right << std::setw(10)
      << median_of(c.convert, cpu) / median_of(c.roundtrip, cpu) << "\n";
    t << "(peak RSS is wait4()'s ru_maxrss; it cannot read below the spawning process's own peak, "
      << std::setprecision(1) << static_cast<double>(c.spawner_rss_kb) / 1024.0 << " MiB)\n";
    out << t.str() << std::flush;
}

} // namespace bench
