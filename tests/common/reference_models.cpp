#include "common/reference_models.h"

#include "common/test_paths.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace orcd::test {

namespace {

std::string shell_quote(const std::string& s) { return "'" + s + "'"; }

}  // namespace

std::vector<ReferenceModel> reference_models(const std::string& dir) {
    std::ifstream in(data_path("reference/manifest.json"));
    if (!in) throw std::runtime_error("cannot read " + data_path("reference/manifest.json"));
    const nlohmann::json m = nlohmann::json::parse(in);
    std::vector<ReferenceModel> out;
    for (const auto& e : m.at("models")) {
        ReferenceModel r;
        r.name = e.at("name");
        r.golden = data_path(e.at("golden").get<std::string>());
        r.margin_bound = e.at("margin_bound");
        r.logit_tol = e.at("logit_tol");
        r.note = e.value("note", "");
        if (e.contains("file")) {
            r.path = data_path(e.at("file").get<std::string>());
        } else {
            r.path = dir + "/" + r.name + ".gguf";
            std::string cmd = bin_dir() + "/worker-orcd-synth --threads 1 -o " + shell_quote(r.path);
            for (const auto& a : e.at("synth")) {
                std::string arg = a.get<std::string>();
                if (arg.rfind("testdata/", 0) == 0) arg = data_path(arg.substr(9));
                cmd += " " + shell_quote(arg);
            }
            if (std::system((cmd + " > /dev/null").c_str()) != 0) throw std::runtime_error("failed: " + cmd);
            const std::string want = e.at("sha256"), got = file_sha256(r.path);
            if (got != want)
                throw std::runtime_error(r.name + ": the synthesizer now writes a different file (sha256 " + got +
                                         ", goldens made on " + want +
                                         "): regenerate them with scripts/make-reference-models.sh");
        }
        out.push_back(std::move(r));
    }
    return out;
}

void check_against_golden(orcd_model* model, const ReferenceModel& ref, double margin_bound, double logit_tol) {
    orcd_model_info info{};
    ASSERT_EQ(orcd_model_get_info(model, &info), ORCD_OK);
    const std::vector<GoldenRecord> golden = load_golden(ref.golden);
    ASSERT_FALSE(golden.empty()) << ref.golden;
    size_t compared = 0, forced_total = 0;
    double worst_logit = 0, worst_shortfall = 0;
    for (const GoldenRecord& g : golden) {
        SCOPED_TRACE(ref.name + ": \"" + g.prompt + "\"");
        // Measured first: a byte-fallback vocabulary spends up to three ids on a
        // space (its marker's UTF-8 bytes), more ids than the prompt has bytes.
        size_t n = 0;
        ASSERT_EQ(orcd_tokenize(model, g.prompt.data(), g.prompt.size(), ORCD_TOKENIZE_ADD_BOS, nullptr, 0, &n), ORCD_OK);
        std::vector<int32_t> ids(n);
        ASSERT_EQ(orcd_tokenize(model, g.prompt.data(), g.prompt.size(), ORCD_TOKENIZE_ADD_BOS, ids.data(), ids.size(), &n),
                  ORCD_OK);
        ids.resize(n);
        EXPECT_EQ(ids, g.prompt_ids) << "prompt tokenization differs";

        orcd_job_params p = orcd_job_default_params();
        p.temperature = 0;
        p.max_tokens = uint32_t(g.ids.size());
        orcd_job* job = nullptr;
        ASSERT_EQ(orcd_job_create(model, g.prompt.data(), g.prompt.size(), &p, &job), ORCD_OK) << orcd_last_error_detail();
        std::vector<int32_t> got;
        orcd_job_event ev{};
        do {
            ASSERT_EQ(orcd_job_next(job, &ev), ORCD_OK) << orcd_last_error_detail();
            if (got.empty()) {
                std::vector<float> logits(info.vocab_size);
                ASSERT_EQ(orcd_job_last_logits(job, logits.data(), logits.size()), ORCD_OK);
                for (const auto& [id, want] : g.first_step_top5) {
                    const double err = std::fabs(double(logits.at(size_t(id))) - want);
                    worst_logit = std::max(worst_logit, err);
                    EXPECT_LE(err, logit_tol) << "first-step logit of token " << id << ": " << logits[size_t(id)]
                                              << " vs the reference's " << want;
                }
            }
            got.push_back(ev.token);
        } while (!ev.done);
        orcd_job_free(job);
        const IdComparison c = compare_ids(g, got, margin_bound);
        EXPECT_TRUE(c.ok) << c.summary;
        compared += c.compared;

        // Teacher-forced: a job per step, its prompt the reference's prompt
        // and ids so far. Its first logits give our margin for the
        // reference's choice (its logit minus our best other); where the
        // reference's margin is at least margin_bound, ours must favour the
        // same token. The largest shortfall (reference margin minus ours) is
        // what the bounds are measured from.
        size_t forced = 0, forced_equal = 0;
        std::vector<int32_t> seq = g.prompt_ids;
        std::vector<float> logits(info.vocab_size);
        for (size_t k = 0; k < g.ids.size() && k < g.top1_margin.size(); ++k) {
            orcd_job_params fp = orcd_job_default_params();
            fp.temperature = 0;
            fp.max_tokens = 1;
            orcd_job* fj = nullptr;
            ASSERT_EQ(orcd_job_create_tokens(model, seq.data(), seq.size(), &fp, &fj), ORCD_OK) << orcd_last_error_detail();
            ASSERT_EQ(orcd_job_next(fj, &ev), ORCD_OK) << orcd_last_error_detail();
            ASSERT_EQ(orcd_job_last_logits(fj, logits.data(), logits.size()), ORCD_OK);
            orcd_job_free(fj);
            const int32_t want = g.ids[k];
            float other = -INFINITY;
            for (size_t j = 0; j < logits.size(); ++j)
                if (int32_t(j) != want) other = std::max(other, logits[j]);
            const double ours = double(logits[size_t(want)]) - other;
            worst_shortfall = std::max(worst_shortfall, g.top1_margin[k] - ours);
            if (g.top1_margin[k] >= margin_bound) {
                ++forced;
                forced_equal += ev.token == want;
                EXPECT_EQ(ev.token, want) << "teacher-forced step " << k << ": reference margin " << g.top1_margin[k]
                                          << ", ours " << ours;
            }
            seq.push_back(want);
        }
        std::printf("[ stats    ] %s \"%s\": greedy %s; teacher-forced %zu/%zu steps with margin >= %.3g equal\n",
                    ref.name.c_str(), g.prompt.c_str(), c.summary.c_str(), forced_equal, forced, margin_bound);
        forced_total += forced;
    }
    std::printf("[ stats    ] %s: %zu greedy ids and %zu teacher-forced steps compared over %zu prompts, worst "
                "first-step logit difference %.4g (bound %.3g), worst margin shortfall %.4g (bound %.3g)\n",
                ref.name.c_str(), compared, forced_total, golden.size(), worst_logit, logit_tol, worst_shortfall,
                margin_bound);
}

}  // namespace orcd::test
