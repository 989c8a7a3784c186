// The reference-model suite: small models of every architecture and weight
// format, each with greedy generations that llama.cpp made on the very same
// file (testdata/reference/manifest.json says which file, how to make it
// when it is synthesized at test time, and the bounds). A model either lives
// in testdata/reference/ (files llama.cpp's quantizer made) or is written by
// worker-orcd-synth from the recorded arguments and checked against the
// recorded sha256, so that a change of the synthesizer cannot silently make
// the goldens stale.
#pragma once

#include "common/golden.h"

#include <orcd/orcd.h>

#include <string>
#include <vector>

namespace orcd::test {

struct ReferenceModel {
    std::string name;
    std::string path;         // the GGUF file (made when synthesized)
    std::string golden;       // llama-golden's JSON lines for it
    double margin_bound = 0;  // ids compared where the reference's top-1 margin is at least this
    double logit_tol = 0;     // first-step logits of the reference's top 5, absolute
    std::string note;         // why the bounds are what they are
};

// The manifest's entries, synthesized ones written into `dir`. A synthesized
// file whose sha256 differs from the recorded one fails (throws) with how to
// regenerate the goldens.
std::vector<ReferenceModel> reference_models(const std::string& dir);

// Runs every golden prompt on `model` and checks (printing a stats line per
// prompt):
//   - the prompt's token ids equal the reference's;
//   - the first step's logits of the reference's top 5 are within logit_tol;
//   - greedy generation gives the reference's ids up to the first step whose
//     reference top-1 margin is below margin_bound;
//   - teacher-forced (the reference's own ids fed back), every step whose
//     reference margin is at least margin_bound picks the reference's id, so
//     a difference late in the sequence is seen even after an early
//     close call.
void check_against_golden(orcd_model* model, const ReferenceModel& ref, double margin_bound, double logit_tol);

}  // namespace orcd::test
