/* A C99 program using the C API exactly as another language would bind it:
 * it proves the header compiles as C and that a C caller can load a model,
 * generate greedily and read the stats. Usage: c_consumer MODEL.gguf */
#include <orcd/orcd.h>

#include <stdio.h>
#include <string.h>

static int check(orcd_status st, const char* what) {
    if (st != ORCD_OK) {
        fprintf(stderr, "%s failed: %s (%s): %s\n", what, orcd_error_name(st), orcd_error_message(st),
                orcd_last_error_detail());
        return 1;
    }
    return 0;
}

int main(int argc, char** argv) {
    orcd_device_params dp;
    orcd_model_params mp;
    orcd_job_params jp;
    orcd_device* dev = NULL;
    orcd_model* model = NULL;
    orcd_job* job = NULL;
    orcd_job_event ev;
    orcd_job_stats stats;
    char text[4096];
    size_t len = 0;
    int rc = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: c_consumer MODEL.gguf\n");
        return 2;
    }
    if (orcd_abi_version() != ORCD_ABI_VERSION) {
        fprintf(stderr, "ABI mismatch: header %d, library %d\n", ORCD_ABI_VERSION, orcd_abi_version());
        return 1;
    }
    dp = orcd_device_default_params();
    dp.kind = ORCD_DEVICE_CPU;
    mp = orcd_model_default_params();
    jp = orcd_job_default_params();
    jp.temperature = 0.0f;
    jp.max_tokens = 16;

    if (check(orcd_device_open(&dp, &dev), "orcd_device_open")) goto out;
    if (check(orcd_model_load(dev, argv[1], &mp, &model), "orcd_model_load")) goto out;
    if (check(orcd_job_create(model, "Once upon a time", 16, &jp, &job), "orcd_job_create")) goto out;
    memset(&ev, 0, sizeof ev);
    do {
        if (check(orcd_job_next(job, &ev), "orcd_job_next")) goto out;
        if (len + ev.text_len < sizeof text) {
            memcpy(text + len, ev.text, ev.text_len);
            len += ev.text_len;
        }
    } while (!ev.done);
    text[len] = '\0';
    if (check(orcd_job_get_stats(job, &stats), "orcd_job_get_stats")) goto out;
    printf("%s\n", text);
    /* The golden continuation of this prompt starts with ", there was". */
    if (strncmp(text, ", there was", 11) != 0 || stats.tokens_out != 16 || stats.stop_reason != ORCD_STOP_MAX_TOKENS) {
        fprintf(stderr, "unexpected output: '%s' tokens_out=%u\n", text, stats.tokens_out);
        goto out;
    }
    rc = 0;
out:
    orcd_job_free(job);
    orcd_model_free(model);
    orcd_device_close(dev);
    return rc;
}
