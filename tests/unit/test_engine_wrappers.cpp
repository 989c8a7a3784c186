// The server's C++ RAII owners of the C API handles: unique ownership,
// moves that transfer it, release in the destructor, and C API failures as
// exceptions carrying the code and the detail.
#include "common/test_paths.h"
#include "engine_wrappers.h"

#include <gtest/gtest.h>

#include <type_traits>

namespace orcd::server {
namespace {

static_assert(!std::is_copy_constructible_v<Device> && !std::is_copy_assignable_v<Device>);
static_assert(!std::is_copy_constructible_v<Model> && !std::is_copy_assignable_v<Model>);
static_assert(!std::is_copy_constructible_v<Job> && !std::is_copy_assignable_v<Job>);
static_assert(std::is_nothrow_move_constructible_v<Job> && std::is_nothrow_move_assignable_v<Job>);

orcd_device_params cpu() {
    orcd_device_params p = orcd_device_default_params();
    p.kind = ORCD_DEVICE_CPU;
    return p;
}

orcd_job_params short_job() {
    orcd_job_params p = orcd_job_default_params();
    p.max_tokens = 4;
    p.temperature = 0;
    return p;
}

TEST(EngineWrappers, FailuresThrowWithCodeNameAndDetail) {
    Device dev = Device::open(cpu());
    try {
        Model::load(dev, "/nonexistent/model.gguf", orcd_model_default_params());
        FAIL() << "loading a missing file must throw";
    } catch (const EngineError& e) {
        EXPECT_EQ(e.code(), ORCD_MODEL_LOAD_FAILED);
        EXPECT_STREQ(e.name(), "MODEL_LOAD_FAILED");
        EXPECT_FALSE(e.retriable());
        EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos) << e.what();
    }
}

TEST(EngineWrappers, JobOwnershipMovesAndTheDestructorReleasesTheSlot) {
    Device dev = Device::open(cpu());
    Model model = Model::load(dev, orcd::test::stories_model(), orcd_model_default_params());
    EXPECT_EQ(model.info().vocab_size, 512u);
    {
        Job a = Job::create(model, "Once upon a time", short_job());
        orcd_job* raw = a.get();
        Job b = std::move(a);  // ownership moves, nothing is freed
        EXPECT_EQ(a.get(), nullptr);
        EXPECT_EQ(b.get(), raw);
        // The slot is still taken by b: a second job is BUSY.
        try {
            Job::create(model, "x", short_job());
            FAIL() << "a second live job must be BUSY";
        } catch (const EngineError& e) {
            EXPECT_EQ(e.code(), ORCD_BUSY);
            EXPECT_TRUE(e.retriable());
        }
        orcd_job_event ev{};
        EXPECT_EQ(b.next(ev), ORCD_OK);
        Job c = std::move(b);
        EXPECT_EQ(b.get(), nullptr);
        EXPECT_EQ(c.get(), raw);
    }  // c's destructor frees the job and releases the slot
    Job again = Job::create(model, "Once upon a time", short_job());
    orcd_job_event ev{};
    do {
        ASSERT_EQ(again.next(ev), ORCD_OK);
    } while (!ev.done);
    EXPECT_EQ(again.stats().tokens_out, 4u);
}

TEST(EngineWrappers, MoveAssignFreesThePreviouslyOwnedJob) {
    Device dev = Device::open(cpu());
    Model m1 = Model::load(dev, orcd::test::stories_model(), orcd_model_default_params());
    Model m2 = Model::load(dev, orcd::test::stories_model(), orcd_model_default_params());
    Job on_m1 = Job::create(m1, "a", short_job());
    Job on_m2 = Job::create(m2, "b", short_job());
    on_m1 = std::move(on_m2);  // the job on m1 is freed here, so m1's slot opens
    Job fresh = Job::create(m1, "c", short_job());
    EXPECT_NE(fresh.get(), nullptr);
    EXPECT_NE(on_m1.get(), nullptr);
    EXPECT_EQ(on_m2.get(), nullptr);
}

}  // namespace
}  // namespace orcd::server
