// convert_bench: how much the whole legacy conversion costs on top of merely parsing the upstream File
// object.
//
// For each input, in one run:
//   parse/<input>            (a)  boost::json::parse of the bytes (default options, default storage)
//   parse_document/<input>   (a') shim::cli::parse_json_document alone (the product's parse)
//   convert_object/<input>   (b)  bytes -> legacy bytes as `sigma-shim convert --form object` does it:
//                                 parse_json_document, find_file_object, extract (ContextMode::all, no
//                                 behaviours), render(Form::object)
//   convert_relationship/<input> (b')  the same with render(Form::relationship)
//   extract_render/<input>   (c)  (b) on a document parsed beforehand: find_file_object, extract, render
// then a table of (b)/(a) against the target of 1.25, and a breakdown table.
//
// The table reads wall time per iteration; with --benchmark_repetitions=N it takes the median of the N runs.
//
// Inputs: the real fixtures under tests/fixtures/vt that carry Sigma data, and a File object of about 5 MB
// with 2,000 Sigma rules generated here, deterministically, roughly half of it attributes that are not Sigma
// data.
//
// Then, as whole processes (process_bench.cpp), on a File object of about 16 MiB with 6,400 rules from the
// same generator: `sigma-shim convert --form object` against a child that only parses and serializes the same
// bytes with Boost.JSON (this program with --roundtrip), wall time and peak RSS; it runs first, while this
// process is still small, and its table is printed last.
//
// Extra flags: --dump_generated=PATH writes the 5 MB generated File object (to profile `sigma-shim convert`
// on it); --shim=PATH the sigma-shim to run (default: the one of this build tree); --process_runs=N runs of
// each child (default 5; 0 skips the whole-process comparison); --process_only skips the Google Benchmark
// rows.
#include "cli/json_document.hpp"
#include "process_bench.hpp"
#include "sigma_analysis/extract.hpp"
#include "sigma_analysis/input.hpp"
#include "sigma_analysis/render.hpp"

#include <algorithm>
#include <array>
#include <benchmark/benchmark.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {

namespace json = boost::json;
namespace sa = sigma_analysis;

constexpr double target_ratio = 1.25;

// ---------------------------------------------------------------------------------------------------------------
// Writing JSON with non-ASCII as \u escapes, as VirusTotal's API serves it (Python's ensure_ascii), and
// without white space: the fixtures are indented, but compact text is the harder case for the (b)/(a) ratio,
// since white space costs the parser time and nothing else.

void write_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    auto escape_unit = [&](std::uint32_t u) {
        out += "\\u";
        for (int shift = 12; shift >= 0; shift -= 4)
            out.push_back(hex[(u >> shift) & 0xFu]);
    };
    out.push_back('"');
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (c < 0x20)
                    escape_unit(c);
                else
                    out.push_back(static_cast<char>(c));
            }
            ++i;
            continue;
        }
        // The generator writes valid UTF-8 only.
        const std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        std::uint32_t cp = c & (len == 4 ? 0x07u : len == 3 ? 0x0Fu : 0x1Fu);
        for (std::size_t j = 1; j < len && i + j < s.size(); ++j) {
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + j]) & 0x3Fu);
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            escape_unit(0xD800u + (cp >> 10));
            escape_unit(0xDC00u + (cp & 0x3FFu));
        } else {
            escape_unit(cp);
        }
        i += len;
    }
    out.push_back('"');
}

void write_value(std::string& out, const json::value& v) {
    switch (v.kind()) {
    case json::kind::string:
        write_string(out, v.get_string());
        return;
    case json::kind::object: {
        const auto& obj = v.get_object();
        if (obj.empty()) {
            out += "{}";
            return;
        }
        out.push_back('{');
        bool first = true;
        for (const auto& kv : obj) {
            if (!first) out.push_back(',');
            first = false;
            write_string(out, kv.key());
            out.push_back(':');
            write_value(out, kv.value());
        }
        out.push_back('}');
        return;
    }
    case json::kind::array: {
        const auto& arr = v.get_array();
        if (arr.empty()) {
            out += "[]";
            return;
        }
        out.push_back('[');
        bool first = true;
        for (const auto& item : arr) {
            if (!first) out.push_back(',');
            first = false;
            write_value(out, item);
        }
        out.push_back(']');
        return;
    }
    default:
        out += json::serialize(v);
        return;
    }
}

// Bytes one member takes in an object, with its separator.
std::size_t member_bytes(std::string_view key, const json::value& v) {
    std::string tmp;
    write_string(tmp, key);
    tmp += ':';
    write_value(tmp, v);
    return tmp.size() + 1;
}

// ---------------------------------------------------------------------------------------------------------------
// A deterministic generator of a large, realistic File object.

class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}

    std::uint64_t next() { // splitmix64
        state_ += 0x9E3779B97F4A7C15ull;
        std::uint64_t z = state_;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    std::int64_t between(std::int64_t lo, std::int64_t hi) { // inclusive
        return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
    }
    bool chance(unsigned percent) { return below(100) < percent; }
    std::string_view pick(std::span<const std::string_view> items) { return items[below(items.size())]; }
    std::string hex(std::size_t n, bool upper = false) {
        const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
        std::string s(n, '0');
        for (auto& ch : s)
            ch = digits[next() & 0xF];
        return s;
    }
    std::string base64(std::size_t n) {
        static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        std::string s(n, 'A');
        for (auto& ch : s)
            ch = alphabet[next() & 0x3F];
        return s;
    }

private:
    std::uint64_t state_;
};

constexpr std::string_view users[] = {
    "DESKTOP-B0T93D6\\george", "WIN-7QK2L0P\\José", "CORP\\jürgen.müller", "NT AUTHORITY\\SYSTEM",
    "PC-DMITRY\\Дмитрий",      "LAPTOP-4F\\田中",   "DESKTOP-Z1\\Zoë",     "NT AUTHORITY\\LOCAL SERVICE",
};
constexpr std::string_view user_dirs[] = {"george", "José", "jürgen.müller", "Дмитрий",
                                          "田中",   "Zoë",  "admin"};
constexpr std::string_view system_exes[] = {
    "cmd.exe",    "powershell.exe", "rundll32.exe", "regsvr32.exe", "schtasks.exe", "wmic.exe",
    "mshta.exe",  "certutil.exe",   "bcdedit.exe",  "vssadmin.exe", "reg.exe",      "net.exe",
    "whoami.exe", "svchost.exe",    "conhost.exe",  "wscript.exe",  "cscript.exe",  "bitsadmin.exe",
};
constexpr std::string_view dropped_names[] = {
    "updater",       "svhost", "invoice_2024", "Rechnung_Mai", "setup",
    "chrome_update", "счет",   "報告書",       "tmp4F2A",
};
constexpr std::string_view descriptions[] = {
    "Windows Command Processor",
    "Windows PowerShell",
    "Windows host process (Rundll32)",
    "Microsoft(C) Register Server",
    "Task Scheduler Configuration Tool",
    "Boot Configuration Data Editor",
    "Microsoft® HTML Application host",
    "Console Window Host",
    "Microsoft ® Windows Based Script Host",
};
constexpr std::string_view integrity_levels[] = {"High", "Medium", "System", "Low"};
constexpr std::string_view event_ids[] = {"1", "1", "1", "3", "7", "10", "11", "12", "13", "22"};

std::string image_path(Rng& rng) {
    if (rng.chance(60)) return "C:\\Windows\\System32\\" + std::string(rng.pick(system_exes));
    if (rng.chance(50)) return "C:\\Windows\\SysWOW64\\" + std::string(rng.pick(system_exes));
    return "C:\\Users\\" + std::string(rng.pick(user_dirs)) + "\\AppData\\Local\\Temp\\" +
           std::string(rng.pick(dropped_names)) + ".exe";
}

std::string guid(Rng& rng) {
    return "{" + rng.hex(8, true) + "-" + rng.hex(4, true) + "-" + rng.hex(4, true) + "-" + rng.hex(4, true) +
           "-" + rng.hex(12, true) + "}";
}

std::string command_line(Rng& rng) {
    const std::string user(rng.pick(user_dirs));
    const std::string drop(rng.pick(dropped_names));
    switch (rng.below(7)) {
    case 0:
        return "\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" -NoP -NonI -W Hidden "
               "-Exec "
               "Bypass -Enc " +
               rng.base64(static_cast<std::size_t>(rng.between(40, 200)));
    case 1:
        return "C:\\Windows\\system32\\cmd.exe /c \"echo " + rng.hex(6) + " > \\\\.\\pipe\\" + rng.hex(6) +
               "\"";
    case 2:
        return "rundll32.exe \"C:\\Users\\" + user + "\\AppData\\Roaming\\" + drop +
               ".dll\",DllRegisterServer";
    case 3:
        return "schtasks /create /tn \"" + drop + "\" /tr \"C:\\ProgramData\\" + drop +
               ".exe\" /sc minute /mo 15 /f";
    case 4:
        return "reg add \"HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\" /v \"" + drop +
               "\" /t REG_SZ /d \"C:\\Users\\" + user + "\\AppData\\Roaming\\" + drop + ".exe\" /f";
    case 5:
        return "C:\\Windows\\Sysnative\\bcdedit.exe /set {default} recoveryenabled No";
    default:
        return "\"C:\\Users\\" + user + "\\Downloads\\" + drop +
               ".exe\" --install --silent --lang=\"fr-FR\" "
               "--token=" +
               rng.hex(32);
    }
}

std::string sysmon_value(Rng& rng, std::string_view key) {
    auto num = [&](std::int64_t lo, std::int64_t hi) { return std::to_string(rng.between(lo, hi)); };
    if (key == "EventID") return std::string(rng.pick(event_ids));
    if (key == "RuleName") return rng.chance(70) ? "-" : "technique_id=T1059.001,technique_name=PowerShell";
    if (key == "UtcTime") {
        char buf[40];
        std::snprintf(buf, sizeof buf, "2024-07-%02d %02d:%02d:%02d.%03d",
                      static_cast<int>(rng.between(1, 28)), static_cast<int>(rng.between(0, 23)),
                      static_cast<int>(rng.between(0, 59)), static_cast<int>(rng.between(0, 59)),
                      static_cast<int>(rng.between(0, 999)));
        return buf;
    }
    if (key == "ProcessGuid" || key == "ParentProcessGuid" || key == "LogonGuid") return guid(rng);
    if (key == "ProcessId" || key == "ParentProcessId") return num(100, 12000);
    if (key == "Image" || key == "ParentImage") return image_path(rng);
    if (key == "CommandLine" || key == "ParentCommandLine") return command_line(rng);
    if (key == "User" || key == "ParentUser") return std::string(rng.pick(users));
    if (key == "LogonId") return "0x" + rng.hex(6);
    if (key == "TerminalSessionId") return num(0, 2);
    if (key == "IntegrityLevel") return std::string(rng.pick(integrity_levels));
    if (key == "Hashes") {
        return "MD5=" + rng.hex(32, true) + ",SHA256=" + rng.hex(64, true) + ",IMPHASH=" + rng.hex(32, true);
    }
    if (key == "Description") return std::string(rng.pick(descriptions));
    if (key == "Product") return "Microsoft® Windows® Operating System";
    if (key == "Company") return rng.chance(80) ? "Microsoft Corporation" : "Société Générale d’Édition";
    if (key == "FileVersion")
        return "10.0." + num(14393, 22631) + "." + num(1, 3000) + " (WinBuild.160101.0800)";
    if (key == "OriginalFileName") return std::string(rng.pick(system_exes));
    if (key == "CurrentDirectory") return "C:\\Users\\" + std::string(rng.pick(user_dirs)) + "\\Desktop\\";
    if (key == "TargetFilename") {
        return "C:\\Users\\" + std::string(rng.pick(user_dirs)) +
               "\\AppData\\Roaming\\Microsoft\\Windows\\"
               "Start Menu\\Programs\\Startup\\" +
               std::string(rng.pick(dropped_names)) + ".lnk";
    }
    if (key == "TargetObject") {
        return "HKU\\S-1-5-21-" + num(1000000, 9999999) + "-" + num(1000, 9999) +
               "\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\" + std::string(rng.pick(dropped_names));
    }
    if (key == "Details")
        return "\"C:\\ProgramData\\" + std::string(rng.pick(dropped_names)) + ".exe\" -autorun";
    if (key == "QueryName") return rng.hex(10) + ".duckdns.org";
    if (key == "DestinationIp")
        return num(1, 223) + "." + num(0, 255) + "." + num(0, 255) + "." + num(1, 254);
    if (key == "DestinationPort") return num(1, 65535);
    return "-";
}

// Sysmon's order of fields; a context takes EventID and a random subset of the rest.
constexpr std::string_view sysmon_keys[] = {
    "RuleName",          "UtcTime",           "ProcessGuid",   "ProcessId",         "Image",
    "FileVersion",       "Description",       "Product",       "Company",           "OriginalFileName",
    "CommandLine",       "CurrentDirectory",  "User",          "LogonGuid",         "LogonId",
    "TerminalSessionId", "IntegrityLevel",    "Hashes",        "ParentProcessGuid", "ParentProcessId",
    "ParentImage",       "ParentCommandLine", "ParentUser",    "TargetFilename",    "TargetObject",
    "Details",           "QueryName",         "DestinationIp", "DestinationPort",
};

json::object context_values(Rng& rng) {
    const auto count = static_cast<std::size_t>(rng.between(8, 15));
    std::vector<std::size_t> order(std::size(sysmon_keys));
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    for (std::size_t i = 0; i + 1 < count; ++i)
        std::swap(order[i], order[i + rng.below(order.size() - i)]);
    order.resize(count - 1);
    std::sort(order.begin(), order.end());
    json::object values;
    for (auto i : order)
        values[sysmon_keys[i]] = sysmon_value(rng, sysmon_keys[i]);
    values["EventID"] = sysmon_value(rng, "EventID");
    return values;
}

constexpr std::string_view title_verbs[] = {
    "Suspicious", "Potential", "Uncommon", "Abused", "Obfuscated", "Renamed", "Hidden", "Encoded",
};
constexpr std::string_view title_things[] = {
    "PowerShell Download Cradle",
    "Rundll32 Execution",
    "Scheduled Task Creation",
    "Run Key Persistence",
    "Shadow Copy Deletion",
    "LSASS Access",
    "Certutil Decode",
    "Mshta Script Execution",
    "Process Creation Using Sysnative Folder",
    "DNS Query to Dynamic DNS Domain",
    "Startup Folder File Write",
};
constexpr std::string_view title_ways[] = {
    "", " via CommandLine", " From Temp Folder", " by Office Process", " With Hidden Window", " - Sysmon",
};
constexpr std::string_view sources[] = {
    "Sigma Integrated Rule Set (GitHub)",
    "SOC Prime Threat Detection Marketplace",
    "Joe Security Rule Set (GitHub)",
    "SigmaHQ Emerging Threats",
};
constexpr std::string_view levels[] = {"low", "medium", "medium", "medium", "high", "high", "critical"};
constexpr std::string_view authors[] = {
    "Florian Roth (Nextron Systems)",
    "Nasreddine Bencherchali (Nextron Systems)",
    "frack113",
    "Max Altgelt",
    "Aleksey Potapov, oscd.community",
    "Joe Security",
    "Tim Shelton",
    "Sérgio Quintão",
    "Ömer Günal",
    "李雷",
};

json::object rule_entry(Rng& rng, std::size_t index) {
    json::object e;
    json::array contexts;
    const std::size_t n_contexts = rng.chance(70) ? 1 : rng.chance(67) ? 2 : 3;
    for (std::size_t i = 0; i < n_contexts; ++i) {
        json::object ctx;
        ctx["values"] = context_values(rng);
        contexts.emplace_back(std::move(ctx));
    }
    e["match_context"] = std::move(contexts);
    const std::string thing(rng.pick(title_things));
    e["rule_level"] = rng.pick(levels);
    e["rule_id"] = rng.hex(64);
    e["rule_source"] = rng.pick(sources);
    e["rule_title"] = std::string(rng.pick(title_verbs)) + " " + thing + std::string(rng.pick(title_ways)) +
                      " #" + std::to_string(index);
    e["rule_description"] = "Detects " + thing +
                            " as used by \"loaders\" and red-team tooling (e.g. Cobalt Strike, "
                            "Sliver); the pattern is rare on clean hosts — see T1059 / T1547.";
    if (!rng.chance(5)) e["rule_author"] = rng.pick(authors);
    return e;
}

// Ordinary File-object attributes that are not Sigma data, in blocks the generator can repeat.
constexpr std::string_view engines[] = {
    "Bkav",
    "Lionic",
    "MicroWorld-eScan",
    "ClamAV",
    "CMC",
    "CAT-QuickHeal",
    "Skyhigh",
    "ALYac",
    "Cylance",
    "Zillya",
    "Sangfor",
    "K7AntiVirus",
    "Alibaba",
    "K7GW",
    "Cybereason",
    "Arcabit",
    "BitDefenderTheta",
    "VirIT",
    "Symantec",
    "tehtris",
    "ESET-NOD32",
    "APEX",
    "Paloalto",
    "Cynet",
    "Kaspersky",
    "BitDefender",
    "NANO-Antivirus",
    "SUPERAntiSpyware",
    "Avast",
    "Tencent",
    "Emsisoft",
    "F-Secure",
    "DrWeb",
    "VIPRE",
    "TrendMicro",
    "McAfeeD",
    "Trapmine",
    "FireEye",
    "Sophos",
    "Ikarus",
    "Jiangmin",
    "Webroot",
    "Varist",
    "Avira",
    "Antiy-AVL",
    "Kingsoft",
    "Gridinsoft",
    "Xcitium",
    "Microsoft",
    "ViRobot",
    "ZoneAlarm",
    "GData",
    "Google",
    "AhnLab-V3",
    "Acronis",
    "McAfee",
    "MAX",
    "VBA32",
    "Malwarebytes",
    "Panda",
    "Zoner",
    "TrendMicro-HouseCall",
    "Rising",
    "Yandex",
    "SentinelOne",
    "MaxSecure",
    "Fortinet",
    "AVG",
    "DeepInstinct",
    "CrowdStrike",
    "Elastic",
};
constexpr std::string_view dlls[] = {
    "KERNEL32.dll", "USER32.dll",   "ADVAPI32.dll", "SHELL32.dll",  "ole32.dll",
    "WS2_32.dll",   "WININET.dll",  "CRYPT32.dll",  "ntdll.dll",    "msvcrt.dll",
    "GDI32.dll",    "OLEAUT32.dll", "SHLWAPI.dll",  "COMCTL32.dll",
};
constexpr std::string_view api_stems[] = {
    "CreateFile",          "ReadFile",      "WriteFile",       "VirtualAlloc",
    "VirtualProtect",      "LoadLibrary",   "GetProcAddress",  "RegOpenKeyEx",
    "RegSetValueEx",       "CreateProcess", "OpenProcess",     "InternetOpenUrl",
    "HttpSendRequest",     "CryptDecrypt",  "GetModuleHandle", "CreateThread",
    "WaitForSingleObject", "FindFirstFile", "MessageBox",
};

json::object engine_result(Rng& rng, std::string_view engine) {
    json::object r;
    const bool detected = rng.chance(40);
    r["method"] = "blacklist";
    r["engine_name"] = engine;
    r["engine_version"] = std::to_string(rng.between(1, 30)) + "." + std::to_string(rng.between(0, 99)) +
                          "." + std::to_string(rng.between(0, 9999)) + "." +
                          std::to_string(rng.between(0, 999));
    r["engine_update"] = "202407" + std::to_string(rng.between(10, 28));
    r["category"] = detected ? "malicious" : "undetected";
    if (detected)
        r["result"] = "Trojan.Win32.Agent." + rng.hex(4) + " (Généric)";
    else
        r["result"] = nullptr;
    return r;
}

json::object import_library(Rng& rng) {
    json::object lib;
    lib["library_name"] = rng.pick(dlls);
    json::array functions;
    const auto n = rng.between(10, 60);
    for (std::int64_t i = 0; i < n; ++i) {
        functions.emplace_back(std::string(rng.pick(api_stems)) + (rng.chance(50) ? "W" : "A") +
                               (rng.chance(20) ? "Ex" : ""));
    }
    lib["imported_functions"] = std::move(functions);
    return lib;
}

json::object resource_entry(Rng& rng) {
    json::object r;
    r["lang"] = rng.chance(70) ? "ENGLISH US" : "RUSSIAN";
    r["entropy"] = static_cast<double>(rng.between(1000, 7999)) / 1000.0;
    r["chi2"] = static_cast<double>(rng.between(100, 9999999)) / 100.0;
    r["filetype"] = rng.chance(50) ? "Data" : "ICO";
    r["sha256"] = rng.hex(64);
    r["type"] = rng.chance(50) ? "RT_ICON" : "RT_RCDATA";
    return r;
}

struct Generated {
    std::string bytes;
    std::size_t sigma_bytes = 0; // bytes of the sigma_analysis_* attributes
    std::size_t rules = 0;
    std::size_t contexts = 0;
};

Generated generate_file_object(std::size_t rule_count, std::size_t target_bytes) {
    Rng rng(0x5167'6D61'5368'696Dull);
    Generated g;
    const std::string sha256 = rng.hex(64);

    // The Sigma part first, to know how much noise to add.
    json::array results;
    std::map<std::string_view, std::array<std::int64_t, 4>> by_source; // critical, high, low, medium
    std::array<std::int64_t, 4> total{};
    for (std::size_t i = 0; i < rule_count; ++i) {
        auto e = rule_entry(rng, i);
        g.contexts += e["match_context"].get_array().size();
        const auto level = e["rule_level"].get_string();
        const std::size_t slot = level == "critical" ? 0 : level == "high" ? 1 : level == "low" ? 2 : 3;
        for (std::string_view s : sources) {
            if (e["rule_source"].get_string() == s) ++by_source[s][slot];
        }
        ++total[slot];
        results.emplace_back(std::move(e));
    }
    g.rules = rule_count;
    auto stats_object = [](const std::array<std::int64_t, 4>& c) {
        return json::object{{"critical", c[0]}, {"high", c[1]}, {"low", c[2]}, {"medium", c[3]}};
    };
    json::object summary;
    for (const auto& [source, counts] : by_source)
        summary[source] = stats_object(counts);
    const json::value stats = stats_object(total);
    const json::value summary_value = std::move(summary);
    const json::value results_value = std::move(results);
    g.sigma_bytes = member_bytes("sigma_analysis_results", results_value) +
                    member_bytes("sigma_analysis_stats", stats) +
                    member_bytes("sigma_analysis_summary", summary_value);

    json::object a;
    std::size_t noise = 0;
    auto add = [&](std::string_view key, auto&& init) {
        json::value v;
        if constexpr (std::is_convertible_v<decltype(init), std::string_view>)
            v = std::string_view(init);
        else
            v = std::forward<decltype(init)>(init);
        noise += member_bytes(key, v);
        a[key] = std::move(v);
    };
    add("type_description", "Win32 EXE");
    add("tlsh", "T1" + rng.hex(70, true));
    add("vhash", "0" + std::to_string(rng.between(10000000, 99999999)) + "\"z" + rng.hex(8));
    add("md5", rng.hex(32));
    add("sha1", rng.hex(40));
    add("sha256", sha256);
    add("ssdeep", "98304:" + rng.base64(60) + ":" + rng.base64(40));
    add("size", rng.between(100000, 9000000));
    add("magic", "PE32 executable (GUI) Intel 80386, for MS Windows");
    add("meaningful_name", "invoice_2024.exe");
    add("times_submitted", rng.between(1, 400));
    add("reputation", -rng.between(0, 90));
    add("first_submission_date", rng.between(1650000000, 1700000000));
    add("last_submission_date", rng.between(1700000000, 1720000000));
    add("last_analysis_date", 1720000000 + rng.between(0, 500000));
    add("last_modification_date", 1720600000 + rng.between(0, 500000));
    add("total_votes", json::object{{"harmless", 0}, {"malicious", rng.between(0, 9)}});
    add("tags",
        json::array{"peexe", "spreader", "detect-debug-environment", "long-sleeps", "checks-user-input"});
    json::array names;
    for (int i = 0; i < 60; ++i) {
        names.emplace_back(std::string(rng.pick(dropped_names)) + "_" + rng.hex(6) +
                           (rng.chance(50) ? ".exe" : ".bin"));
    }
    add("names", std::move(names));
    json::object engine_results;
    std::array<std::int64_t, 2> counts{};
    for (auto engine : engines) {
        auto r = engine_result(rng, engine);
        ++counts[r["category"].get_string() == "malicious" ? 0 : 1];
        engine_results[engine] = std::move(r);
    }
    add("last_analysis_stats", json::object{{"malicious", counts[0]},
                                            {"suspicious", 0},
                                            {"undetected", counts[1]},
                                            {"harmless", 0},
                                            {"timeout", 0},
                                            {"type-unsupported", 0}});
    add("last_analysis_results", std::move(engine_results));
    add("trid",
        json::array{
            json::object{{"file_type", "Win32 Executable MS Visual C++ (generic)"}, {"probability", 47.3}},
            json::object{{"file_type", "Win64 Executable (generic)"}, {"probability", 15.9}}});

    // pe_info grows until the whole object has the size asked for.
    json::array imports, resources;
    json::array sections;
    for (std::string_view name : {".text", ".rdata", ".data", ".rsrc", ".reloc"}) {
        sections.emplace_back(json::object{{"name", name},
                                           {"chi2", static_cast<double>(rng.between(100, 999999)) / 10.0},
                                           {"virtual_address", rng.between(4096, 900000)},
                                           {"entropy", static_cast<double>(rng.between(1000, 7999)) / 1000.0},
                                           {"raw_size", rng.between(512, 2000000)},
                                           {"flags", "rx"},
                                           {"md5", rng.hex(32)}});
    }
    std::size_t pe_bytes = 0;
    while (g.sigma_bytes + noise + pe_bytes < target_bytes) {
        json::value lib = import_library(rng);
        json::value res = resource_entry(rng);
        pe_bytes += member_bytes("", lib) + member_bytes("", res) - 6; // array items: no key
        imports.emplace_back(std::move(lib));
        resources.emplace_back(std::move(res));
    }
    a["pe_info"] = json::object{{"timestamp", rng.between(1600000000, 1700000000)},
                                {"imphash", rng.hex(32)},
                                {"machine_type", 332},
                                {"entry_point", rng.between(4096, 90000)},
                                {"sections", std::move(sections)},
                                {"import_list", std::move(imports)},
                                {"resource_details", std::move(resources)}};
    a["sigma_analysis_stats"] = stats;
    a["sigma_analysis_summary"] = summary_value;
    a["sigma_analysis_results"] = results_value;

    json::value doc = json::object{
        {"data",
         json::object{{"id", sha256},
                      {"type", "file"},
                      {"links", json::object{{"self", "https://www.virustotal.com/api/v3/files/" + sha256}}},
                      {"attributes", std::move(a)}}}};
    write_value(g.bytes, doc);
    g.bytes.push_back('\n');
    return g;
}

// ---------------------------------------------------------------------------------------------------------------
// What is measured.

struct Input {
    std::string name;
    std::string bytes;
};

// A parsed document to legacy bytes: find_file_object, extract, render.
sa::Answer convert_document(const json::value& doc, sa::Form form) {
    const auto file = sa::find_file_object(doc);
    if (!file) throw std::runtime_error(file.error);
    const sa::RuleCatalog rules;
    auto analysis = sa::extract({*file.value, {}, &rules, sa::ContextMode::all});
    const std::string request_id(analysis.sha256);
    sa::RenderContext ctx;
    ctx.request_id = request_id;
    ctx.rules = &rules;
    ctx.file_document = &doc;
    return sa::render(form, analysis, ctx);
}

// Bytes to legacy bytes, as `sigma-shim convert --file F --form object|relationship` does it between reading
// the file and writing standard output.
sa::Answer convert(std::string_view bytes, sa::Form form) {
    auto doc = shim::cli::parse_json_document(bytes);
    if (!doc.error.empty()) throw std::runtime_error(doc.error);
    return convert_document(doc.value, form);
}

void set_bytes(benchmark::State& state, const Input& in) {
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(in.bytes.size()));
}

void bm_parse(benchmark::State& state, const Input* in) {
    for ([[maybe_unused]] auto _ : state) {
        json::value v = json::parse(in->bytes);
        benchmark::DoNotOptimize(v);
    }
    set_bytes(state, *in);
}

void bm_parse_document(benchmark::State& state, const Input* in) {
    for ([[maybe_unused]] auto _ : state) {
        auto doc = shim::cli::parse_json_document(in->bytes);
        benchmark::DoNotOptimize(doc);
    }
    set_bytes(state, *in);
}

void bm_convert(benchmark::State& state, const Input* in, sa::Form form) {
    for ([[maybe_unused]] auto _ : state) {
        auto answer = convert(in->bytes, form);
        benchmark::DoNotOptimize(answer.body.data());
        benchmark::ClobberMemory();
    }
    set_bytes(state, *in);
}

// (b) without its parse: where the time beyond parsing goes.
void bm_extract_render(benchmark::State& state, const Input* in) {
    const auto doc = shim::cli::parse_json_document(in->bytes);
    for ([[maybe_unused]] auto _ : state) {
        auto answer = convert_document(doc.value, sa::Form::object);
        benchmark::DoNotOptimize(answer.body.data());
        benchmark::ClobberMemory();
    }
    set_bytes(state, *in);
}

// Keeps the wall time per iteration of every run while printing as usual.
class CapturingReporter : public benchmark::ConsoleReporter {
public:
    // Colours only on a terminal: --benchmark_color applies to the default reporter, not to this one.
    CapturingReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular) {}

    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs) {
            if (r.run_type != Run::RT_Iteration || r.error_occurred || r.iterations <= 0) continue;
            ns_[r.run_name.function_name].push_back(r.real_accumulated_time * 1e9 /
                                                    static_cast<double>(r.iterations));
        }
    }

    // The median over repetitions (--benchmark_repetitions), or the one run.
    std::optional<double> ns(const std::string& name) const {
        const auto it = ns_.find(name);
        if (it == ns_.end() || it->second.empty()) return std::nullopt;
        auto v = it->second;
        std::sort(v.begin(), v.end());
        const std::size_t n = v.size();
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

private:
    std::map<std::string, std::vector<double>> ns_;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string fmt(std::optional<double> v, int precision) {
    if (!v) return "-";
    std::ostringstream s;
    s << std::fixed << std::setprecision(precision) << *v;
    return s.str();
}

void print_table(const std::vector<Input>& inputs, const CapturingReporter& rep) {
    std::ostringstream t;
    auto ratio = [](std::optional<double> x, std::optional<double> y) -> std::optional<double> {
        if (x && y) return *x / *y;
        return std::nullopt;
    };
    t << "\nconvert_bench: (a) boost::json::parse of the bytes; (b) bytes -> legacy bytes, Form::object"
      << "\n"
      << std::left << std::setw(28) << "input" << std::right << std::setw(10) << "bytes" << std::setw(14)
      << "(a) ns/it" << std::setw(14) << "(b) ns/it" << std::setw(9) << "(b)/(a)" << std::setw(8) << "target"
      << std::setw(7) << "result"
      << "\n";
    for (const auto& in : inputs) {
        const auto a = rep.ns("parse/" + in.name);
        const auto b = rep.ns("convert_object/" + in.name);
        const auto r = ratio(b, a);
        const char* verdict = !r ? "-" : *r <= target_ratio ? "PASS" : "MISS";
        t << std::left << std::setw(28) << in.name << std::right << std::setw(10) << in.bytes.size()
          << std::setw(14) << fmt(a, 0) << std::setw(14) << fmt(b, 0) << std::setw(9) << fmt(r, 2)
          << std::setw(8) << "<=" + fmt(target_ratio, 2) << std::setw(7) << verdict << "\n";
    }
    t << "\nbreakdown: (a') shim::cli::parse_json_document alone; (c) find_file_object + extract + "
         "render(object)"
      << " on a parsed document;\n           (b') as (b) with Form::relationship"
      << "\n"
      << std::left << std::setw(28) << "input" << std::right << std::setw(14) << "(a') ns/it" << std::setw(10)
      << "(a')/(a)" << std::setw(14) << "(c) ns/it" << std::setw(9) << "(c)/(a)" << std::setw(14)
      << "(b') ns/it" << std::setw(10) << "(b')/(a)"
      << "\n";
    for (const auto& in : inputs) {
        const auto a = rep.ns("parse/" + in.name);
        const auto a_doc = rep.ns("parse_document/" + in.name);
        const auto c = rep.ns("extract_render/" + in.name);
        const auto b_rel = rep.ns("convert_relationship/" + in.name);
        t << std::left << std::setw(28) << in.name << std::right << std::setw(14) << fmt(a_doc, 0)
          << std::setw(10) << fmt(ratio(a_doc, a), 2) << std::setw(14) << fmt(c, 0) << std::setw(9)
          << fmt(ratio(c, a), 2) << std::setw(14) << fmt(b_rel, 0) << std::setw(10) << fmt(ratio(b_rel, a), 2)
          << "\n";
    }
    std::cout << t.str() << std::flush;
}

// The generated File object of the whole-process comparison: the same generator with more rules.
constexpr std::size_t big_rules = 6400;
constexpr std::size_t big_bytes = 16u << 20;

void describe(const Generated& g) {
    std::cerr << "generated File object: " << g.bytes.size() << " bytes, " << g.rules << " rules, "
              << g.contexts << " match contexts, Sigma attributes " << g.sigma_bytes << " bytes ("
              << std::fixed << std::setprecision(0)
              << 100.0 * static_cast<double>(g.sigma_bytes) / static_cast<double>(g.bytes.size()) << "%)\n";
}

// Child mode `--write_generated PATH RULES BYTES`: the big object is built in a child, so that this process
// stays small and the children it times get an honest ru_maxrss (see process_bench.cpp).
int write_generated(const std::string& path, std::size_t rules, std::size_t bytes) {
    const auto g = generate_file_object(rules, bytes);
    describe(g);
    std::ofstream out(path, std::ios::binary);
    out << g.bytes;
    return out.flush() ? 0 : 1;
}

std::string self_path() {
    std::error_code ec;
    const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) throw std::runtime_error("cannot read /proc/self/exe: " + ec.message());
    return p.string();
}

// Generates the big File object into a temporary file, compares the two children on it, removes the file.
bench::ProcessComparison whole_process(const std::string& shim, int runs) {
    if (access(shim.c_str(), X_OK) != 0)
        throw std::runtime_error("no sigma-shim at " + shim + " (--shim=PATH)");
    const auto dir = std::filesystem::temp_directory_path();
    std::string path = (dir / "convert_bench-XXXXXX.json").string();
    const int fd = mkstemps(path.data(), 5);
    if (fd < 0) throw std::runtime_error("mkstemps: " + std::string(std::strerror(errno)));
    close(fd);
    struct Remove {
        std::string p;
        ~Remove() { std::filesystem::remove(p); }
    } cleanup{path};
    const std::string self = self_path();
    const auto gen = bench::run_child(
        {self, "--write_generated", path, std::to_string(big_rules), std::to_string(big_bytes)});
    if (gen.exit_status != 0) throw std::runtime_error("generating " + path + " failed");
    std::cerr << "whole-process comparison: " << runs
              << " runs each of sigma-shim convert and the Boost.JSON "
              << "roundtrip\n";
    return bench::compare_processes(path, shim, self, runs);
}

} // namespace

int main(int argc, char** argv) {
    // Child modes of the whole-process comparison.
    if (argc == 3 && std::string_view(argv[1]) == "--roundtrip") return bench::roundtrip(argv[2]);
    if (argc == 5 && std::string_view(argv[1]) == "--write_generated") {
        return write_generated(argv[2], std::stoul(argv[3]), std::stoul(argv[4]));
    }

    benchmark::Initialize(&argc, argv);
    std::string dump_path;
    std::string shim = SIGMA_SHIM_BINARY;
    int process_runs = 5;
    bool process_only = false;
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&](std::string_view flag) -> std::optional<std::string> {
            if (arg.starts_with(flag)) return std::string(arg.substr(flag.size()));
            return std::nullopt;
        };
        if (const auto dump = value("--dump_generated="))
            dump_path = *dump;
        else if (const auto path = value("--shim="))
            shim = *path;
        else if (const auto runs = value("--process_runs="))
            process_runs = std::stoi(*runs);
        else if (arg == "--process_only")
            process_only = true;
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

    // First, while this process is small: its peak is the floor of every child's ru_maxrss.
    std::optional<bench::ProcessComparison> processes;
    if (process_runs > 0) {
        try {
            processes = whole_process(shim, process_runs);
        } catch (const std::exception& e) {
            std::cerr << "convert_bench: whole-process comparison: " << e.what() << "\n";
            return 1;
        }
    }
    if (process_only) {
        if (processes) bench::print_process_comparison(*processes, std::cout);
        return 0;
    }

    std::vector<Input> inputs;
    try {
        const std::string dir = std::string(SIGMA_SHIM_SOURCE_DIR) + "/tests/fixtures/vt/";
        for (std::string_view name :
             {"azul_Win32DLL_multipurpose", "azul_powershell_script", "msticpy_vt3_file_1"}) {
            inputs.push_back(
                {std::string(name), read_file(dir + "file_object.real." + std::string(name) + ".json")});
        }
        auto generated = generate_file_object(2000, 5'000'000);
        std::cerr << "generated File object: " << generated.bytes.size() << " bytes, " << generated.rules
                  << " rules, " << generated.contexts << " match contexts, Sigma attributes "
                  << generated.sigma_bytes << " bytes (" << std::fixed << std::setprecision(0)
                  << 100.0 * static_cast<double>(generated.sigma_bytes) /
                         static_cast<double>(generated.bytes.size())
                  << "%)\n";
        if (!dump_path.empty()) {
            std::ofstream(dump_path, std::ios::binary) << generated.bytes;
            std::cerr << "written to " << dump_path << "\n";
        }
        inputs.push_back({"generated_2000_rules", std::move(generated.bytes)});

        // Every input must convert, or the timings mean nothing.
        for (const auto& in : inputs) {
            for (auto form : {sa::Form::object, sa::Form::relationship}) {
                const auto answer = convert(in.bytes, form);
                if (answer.status != 200) {
                    throw std::runtime_error(in.name + ": status " + std::to_string(answer.status) + ": " +
                                             answer.body.substr(0, 200));
                }
                json::parse(answer.body); // throws if the answer is not JSON
            }
        }
    } catch (const std::exception& e) {
        std::cerr << "convert_bench: " << e.what() << "\n";
        return 1;
    }

    for (const auto& in : inputs) {
        const Input* p = &in;
        benchmark::RegisterBenchmark(("parse/" + in.name).c_str(), bm_parse, p)->UseRealTime();
        benchmark::RegisterBenchmark(("parse_document/" + in.name).c_str(), bm_parse_document, p)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("convert_object/" + in.name).c_str(), bm_convert, p, sa::Form::object)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("convert_relationship/" + in.name).c_str(), bm_convert, p,
                                     sa::Form::relationship)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("extract_render/" + in.name).c_str(), bm_extract_render, p)
            ->UseRealTime();
    }

    CapturingReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    print_table(inputs, reporter);
    if (processes) bench::print_process_comparison(*processes, std::cout);
    return 0;
}
