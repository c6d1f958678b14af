/*
 * schedule.c - the learning rate at a position of the run (formulas in optim.h). A pure function
 * of the position, so a resumed run gets the rates an uninterrupted one had.
 */
#include <math.h>

#include "optim.h"

#define PI 3.14159265358979323846

float trainer_schedule_lr(const trainer_options_t *o, size_t iteration, size_t batch,
                          size_t batches, size_t rows) {
    double lr = (double)o->learning_rate;
    double e = (double)(iteration > 0 ? iteration - 1 : 0); /* iterations done */
    double k = e * (double)batches + (double)batch;         /* mini-batches done */
    double warm = (double)o->warmup * (double)batches;
    switch (o->schedule) {
    case TRAINER_SCHED_CONSTANT:
        break;
    case TRAINER_SCHED_STEP:
        lr *= pow((double)o->lr_gamma, floor(e / (double)(o->lr_step ? o->lr_step : 1)));
        break;
    case TRAINER_SCHED_COSINE: {
        double total = (double)o->iterations * (double)batches;
        double x = total > warm && k > warm ? (k - warm) / (total - warm) : 0.0;
        double lo = (double)o->lr_min;
        lr = lo + (lr - lo) * 0.5 * (1.0 + cos(PI * (x < 1.0 ? x : 1.0)));
        break;
    }
    case TRAINER_SCHED_INVSCALING:
        lr /= pow(e * (double)rows + 1.0, (double)o->power_t);
        break;
    }
    if (k < warm)
        lr *= (k + 1.0) / warm;
    return (float)lr;
}
