/*
 * api/recording_json.h - what a sensor dataset's answer says beyond its shape, as the JSON text
 * of the store's `details` (merged into GET /api/v1/datasets/{id}):
 *
 * A recording (an upload of format wisdm or timeseries):
 *   {"channels": ["x", "y", "z"], "subjects": [{"id": 33, "samples": 1200}, ...],
 *    "sampling_rate_hz": 20.0, "sample_period_seconds": 0.05,
 *    "gaps": {"count", "longest_seconds", "threshold_seconds", "backwards"},
 *    "records": n, "quirks": {"trailing_comma": 12, ...: every quirk, 0 included},
 *    "quirk_lines": {"trailing_comma": [first line numbers], ...: the quirks seen},
 *    "skipped": {"bad_value": 2, ...: every reason}, "skipped_lines": {"bad_value": [4, 90]}}
 * Windows (POST /api/v1/datasets/{id}/windows):
 *   {"source": {"dataset_id", "name"}, "parameters": {"window_seconds", "step_seconds",
 *    "features", "frame_seconds", "hop_seconds", "max_gap_seconds"}, "shape": {"rate_hz",
 *    "window_samples", "step_samples", "frame_samples", "hop_samples", "frames", "bins"},
 *    "segments", "short_segments", "dropped_classes", "subjects": [{"id", "windows"}]}
 * Pure functions: any thread.
 */
#ifndef API_RECORDING_JSON_H
#define API_RECORDING_JSON_H

#include <stdint.h>

#include "dataset.h"
#include "recording.h"
#include "windows.h"

/* A recording's details (malloc'd JSON text; caller frees), or NULL without memory. */
char *api_recording_details(const ingest_rec_report_t *report, const trainer_dataset_t *rec);

/* Windows' details (malloc'd JSON text), or NULL without memory. */
char *api_windows_details(int64_t source_id, const char *source_name,
                          const ingest_window_options_t *opt, const ingest_window_shape_t *shape,
                          const ingest_window_stats_t *stats, const trainer_dataset_t *windows);

#endif
