// The model file under a running worker. Once `ready`, the worker holds its
// own copy of everything it reads (the CPU backend copies the weights, CUDA
// uploads them, the vocabulary and metadata are copied) and has dropped its
// mapping of the file. So an operator truncating, rewriting or deleting the
// file by mistake cannot take it down: through a mapping, the next read of
// a truncated file would be SIGBUS. Runs on the CPU backend, and on CUDA in
// the GPU integration run (ORCD_ITEST_DEVICE=cuda).
#include "http_client.h"
#include "stream_checks.h"
#include "worker_process.h"

#include "common/test_paths.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace orcd::itest {
namespace {

namespace fs = std::filesystem;

struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
};

FileId file_id(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + path);
    return {st.st_dev, st.st_ino};
}

// The lines of /proc/<pid>/maps that map the file: by device and inode (which
// survive renames and deletion), or by path.
std::vector<std::string> mappings_of(const std::string& maps_path, const FileId& id, const std::string& path) {
    std::ifstream in(maps_path);
    if (!in) throw std::runtime_error("cannot read " + maps_path);
    char dev_text[32];
    std::snprintf(dev_text, sizeof dev_text, "%02x:%02x", major(id.dev), minor(id.dev));
    std::vector<std::string> hits;
    std::string line;
    while (std::getline(in, line)) {
        // address perms offset dev inode [path]
        std::istringstream f(line);
        std::string addr, perms, offset, dev;
        unsigned long long inode = 0;
        f >> addr >> perms >> offset >> dev >> inode;
        if ((dev == dev_text && inode == id.ino) || line.find(path) != std::string::npos) hits.push_back(line);
    }
    return hits;
}

std::string vm_rss(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 6));
    return "?";
}

void write_garbage(int fd, size_t bytes, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<char> buf(bytes);
    for (char& c : buf) c = char(rng());
    ASSERT_EQ(::write(fd, buf.data(), buf.size()), ssize_t(buf.size()));
}

class ModelFileUnderWorker : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = orcd::test::temp_dir();
        path_ = dir_ + "/model.gguf";
        fs::copy_file(orcd::test::stories_model(), path_);
        size_ = fs::file_size(path_);
        id_ = file_id(path_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // A greedy job that must end normally; returns its text.
    std::string run(const WorkerProcess& w, const std::string& job_id) {
        const StreamResult r =
            execute(w.port(), exec_body(job_id, kShortPrompt, {{"temperature", 0}, {"max_tokens", 48}}));
        EXPECT_EQ(r.head.status, 200) << r.head.body;
        EXPECT_TRUE(well_formed(r.events));
        EXPECT_TRUE(r.ended_cleanly);
        EXPECT_EQ(terminal_type(r.events), "end") << (r.events.empty() ? "" : r.events.back().data);
        EXPECT_EQ(terminal_data(r.events)["tokens_out"], 48);
        return generated_text(r.events);
    }

    void expect_alive_and_unmapped(WorkerProcess& w, const std::string& when) {
        SCOPED_TRACE(when);
        EXPECT_FALSE(w.wait_exit(0ms).has_value()) << "the worker exited";
        const HttpResponse h = http_get(w.port(), "/health");
        EXPECT_EQ(h.status, 200) << h.body;
        const std::vector<std::string> maps =
            mappings_of("/proc/" + std::to_string(w.pid()) + "/maps", id_, path_);
        EXPECT_TRUE(maps.empty()) << "the worker still maps the model file: " << maps.front();
        std::printf("[ model    ] %s: worker alive, no mapping of the file, VmRSS %s\n", when.c_str(),
                    vm_rss(w.pid()).c_str());
    }

    std::string dir_, path_;
    uintmax_t size_ = 0;
    FileId id_;
};

// The check above can see a mapping: this process maps the file and finds it.
TEST_F(ModelFileUnderWorker, MappingCheckSeesAMapping) {
    const int fd = open(path_.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    ASSERT_NE(p, MAP_FAILED);
    EXPECT_FALSE(mappings_of("/proc/self/maps", id_, path_).empty());
    munmap(p, size_);
    EXPECT_TRUE(mappings_of("/proc/self/maps", id_, path_).empty());
}

TEST_F(ModelFileUnderWorker, TruncatedRewrittenOrDeletedFileDoesNotStopTheWorker) {
    WorkerOptions opt;
    opt.model = path_;
    WorkerProcess w(opt);
    const std::string before = run(w, "file-intact");
    ASSERT_FALSE(before.empty());
    expect_alive_and_unmapped(w, "after ready");

    // Truncated to 0 bytes: the same inode, now empty.
    ASSERT_EQ(truncate(path_.c_str(), 0), 0);
    EXPECT_EQ(run(w, "file-truncated"), before);
    expect_alive_and_unmapped(w, "truncated");

    // Rewritten in place: the same inode, its old length of random bytes.
    {
        const int fd = open(path_.c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        write_garbage(fd, size_t(size_), 1);
        close(fd);
    }
    ASSERT_EQ(file_id(path_).ino, id_.ino);
    EXPECT_EQ(run(w, "file-rewritten"), before);
    expect_alive_and_unmapped(w, "rewritten in place");

    // Deleted.
    ASSERT_TRUE(fs::remove(path_));
    EXPECT_EQ(run(w, "file-deleted"), before);
    expect_alive_and_unmapped(w, "deleted");

    // Another file of garbage under the same name.
    {
        const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
        ASSERT_GE(fd, 0);
        write_garbage(fd, 4096, 2);
        close(fd);
    }
    EXPECT_EQ(run(w, "file-replaced"), before);
    expect_alive_and_unmapped(w, "replaced by garbage");

    EXPECT_EQ(w.stop(), 0) << "a clean shutdown after all that";
}

}  // namespace
}  // namespace orcd::itest
