// VRAM-only enforcement at the source level: no managed (unified) memory, no
// host-mapped / zero-copy memory, no memory advice or prefetch anywhere, and
// the CUDA allocation functions only in the one audited allocator file
// (src/backend/cuda/device_memory.cpp). Comments and string literals are
// ignored, so documentation may name the forbidden calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const char* const kAuditedFile = "src/backend/cuda/device_memory.cpp";

// Never, not even in the audited file.
const std::set<std::string> kForbidden = {
    "cudaMallocManaged", "cudaHostGetDevicePointer", "cudaHostAllocMapped", "cudaHostRegisterMapped",
    "cudaDeviceMapHost", "cudaMemAdvise", "cudaMemAdvise_v2", "cudaMemPrefetchAsync", "cudaMemPrefetchAsync_v2",
    "cudaMemRangeGetAttribute", "cudaStreamAttachMemAsync", "cuMemAllocManaged", "cuMemHostGetDevicePointer",
    "cuMemAdvise", "cuMemPrefetchAsync", "CU_MEMHOSTALLOC_DEVICEMAP", "__managed__",
};

// Only in the audited allocator file.
const std::set<std::string> kAuditedOnly = {
    "cudaMalloc", "cudaFree", "cudaMallocHost", "cudaHostAlloc", "cudaFreeHost", "cudaMallocAsync",
    "cudaFreeAsync", "cudaMallocPitch", "cudaMalloc3D", "cudaMallocArray", "cudaMalloc3DArray",
    "cudaMallocFromPoolAsync", "cudaHostRegister", "cudaHostUnregister", "cudaMemPoolCreate", "cuMemAlloc",
    "cuMemAlloc_v2", "cuMemFree", "cuMemFree_v2", "cuMemAllocHost", "cuMemHostAlloc", "cuMemCreate",
    "cuMemAllocAsync", "cuMemAllocPitch", "cuMemMap", "cuMemHostRegister",
};

// The identifiers of C/C++/CUDA source text outside comments, string and
// character literals (raw strings included).
std::vector<std::string> code_identifiers(const std::string& s) {
    std::vector<std::string> ids;
    size_t i = 0;
    const size_t n = s.size();
    auto ident_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    while (i < n) {
        const char c = s[i];
        if (c == '/' && i + 1 < n && s[i + 1] == '/') {
            while (i < n && s[i] != '\n') ++i;
        } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
            const size_t end = s.find("*/", i + 2);
            i = end == std::string::npos ? n : end + 2;
        } else if (c == 'R' && i + 1 < n && s[i + 1] == '"' && (i == 0 || !ident_char(s[i - 1]) || s[i - 1] == 'u' ||
                                                               s[i - 1] == 'U' || s[i - 1] == 'L' || s[i - 1] == '8')) {
            const size_t open = s.find('(', i + 2);
            if (open == std::string::npos) break;
            const std::string close = ")" + s.substr(i + 2, open - i - 2) + "\"";
            const size_t end = s.find(close, open + 1);
            i = end == std::string::npos ? n : end + close.size();
        } else if (c == '"' || c == '\'') {
            ++i;
            while (i < n && s[i] != c) i += s[i] == '\\' ? 2 : 1;
            ++i;
        } else if (ident_char(c)) {
            const size_t start = i;
            while (i < n && ident_char(s[i])) ++i;
            if (!std::isdigit(static_cast<unsigned char>(s[start]))) ids.push_back(s.substr(start, i - start));
        } else {
            ++i;
        }
    }
    return ids;
}

struct Finding {
    std::string file, name;
};

std::vector<Finding> scan(const std::string& rel_path, const std::string& text) {
    std::vector<Finding> out;
    const bool audited = rel_path == kAuditedFile;
    for (const std::string& id : code_identifiers(text)) {
        if (kForbidden.count(id) || (!audited && kAuditedOnly.count(id))) out.push_back({rel_path, id});
    }
    return out;
}

bool is_source(const fs::path& p) {
    static const std::set<std::string> exts = {".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".cu", ".cuh", ".inl"};
    return exts.count(p.extension().string()) > 0;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The scanner itself: it must catch real calls and only real calls.
TEST(VramAudit, ScannerFlagsCallsButNotCommentsOrStrings) {
    EXPECT_EQ(scan("src/x.cpp", "void f() { void* p; cudaMalloc(&p, 4); }").size(), 1u);
    EXPECT_EQ(scan("src/x.cu", "cudaMallocManaged(&p, 4, cudaMemAttachGlobal);").size(), 1u);
    EXPECT_EQ(scan("src/x.cpp", "cudaHostAlloc(&p, 4, cudaHostAllocMapped);").size(), 2u);
    EXPECT_EQ(scan("src/x.cpp", "auto f = &cudaFree;").size(), 1u);
    EXPECT_EQ(scan("src/x.cpp", "// cudaMalloc in a comment\n/* cudaMallocManaged */ int x;").size(), 0u);
    EXPECT_EQ(scan("src/x.cpp", "const char* s = \"cudaMalloc(\\\"\"; char c = 'c';").size(), 0u);
    EXPECT_EQ(scan("src/x.cpp", "auto s = R\"x(cudaMalloc()\" )x\"; int y;").size(), 0u);
    EXPECT_EQ(scan("src/x.cpp", "my_cudaMalloc(); cudaMallocWrapper();").size(), 0u);
    EXPECT_EQ(scan(kAuditedFile, "cudaMalloc(&p, n); cudaFree(p);").size(), 0u);
    EXPECT_EQ(scan(kAuditedFile, "cudaMallocManaged(&p, n);").size(), 1u) << "managed memory is banned everywhere";
}

TEST(VramAudit, NoForbiddenAllocationOutsideTheAuditedFile) {
    const fs::path root(ORCD_SOURCE_DIR);
    ASSERT_TRUE(fs::exists(root / kAuditedFile)) << "the audited allocator file is missing: " << kAuditedFile;
    const std::vector<std::string> audited_ids = code_identifiers(read_file(root / kAuditedFile));
    EXPECT_NE(std::find(audited_ids.begin(), audited_ids.end(), "cudaMalloc"), audited_ids.end())
        << "the audited file no longer allocates: the audit points at the wrong place";

    std::vector<Finding> findings;
    size_t files = 0, cuda_files = 0;
    for (const char* dir : {"src", "include", "tools", "tests", "bench"}) {
        if (!fs::exists(root / dir)) continue;
        for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
            if (!e.is_regular_file() || !is_source(e.path())) continue;
            const std::string rel = fs::relative(e.path(), root).generic_string();
            ++files;
            cuda_files += e.path().extension() == ".cu";
            for (Finding& f : scan(rel, read_file(e.path()))) findings.push_back(std::move(f));
        }
    }
    std::printf("[ stats    ] scanned %zu source files (%zu .cu)\n", files, cuda_files);
    EXPECT_GT(files, 20u);
    EXPECT_GT(cuda_files, 0u) << "no CUDA sources found: wrong source root?";
    for (const Finding& f : findings) ADD_FAILURE() << f.file << ": forbidden allocation call " << f.name;
}

}  // namespace
