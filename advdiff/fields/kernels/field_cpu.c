/*
 * Compiled per-step work of advdiff.fields.SpectralTurbulence on the CPU: the two passes
 * around the inverse FFT, each fusing several NumPy operations.
 *
 *   rotate: Z[b, m] = P[b, m] cos(theta_m) + Q[b, m] sin(theta_m)      (complex x real)
 *   finish: v_x = s_x Re w, v_y = s_y Im w with s = U / RMS per image (and component,
 *           or jointly for divergence-free fields), then the soft limiter
 *           |v| -> c tanh(|v| / c), direction kept.
 *
 * The limiter's tanh(x)/x is evaluated by its Taylor series, exact to float32 round-off
 * for x = |v|/c <= 1/2 (the terms decay by about (2x/pi)^2 each). When an image may
 * exceed that (a bound from the per-component maxima), finish leaves that image
 * unlimited and reports it, and the caller applies the NumPy limiter instead.
 * The NumPy implementation in turbulence.py is the reference these are tested against.
 */
#include <Python.h>
#include <math.h>
#include <stdint.h>

#define ADV_EXPORT __attribute__((visibility("default")))

/* Taylor coefficients of tanh(x)/x in powers of x^2 (from the Bernoulli numbers). */
static const double TANH_SERIES[] = {
    1.0,
    -1.0 / 3.0,
    2.0 / 15.0,
    -17.0 / 315.0,
    62.0 / 2835.0,
    -1382.0 / 155925.0,
    21844.0 / 6081075.0,
    -929569.0 / 638512875.0,
    6404582.0 / 10854718875.0,
};
#define TANH_TERMS 9
#define SERIES_MAX_X2 0.25 /* x <= 1/2 */

ADV_EXPORT void adv_field_rotate(const float *P, const float *Q, const float *cosv, const float *sinv, float *Z,
                                 int64_t batch, int64_t modes)
{
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
        for (int64_t m = 0; m < modes; ++m) {
            const int64_t i = 2 * (b * modes + m);
            const float c = cosv[m], s = sinv[m];
            Z[i] = P[i] * c + Q[i] * s;
            Z[i + 1] = P[i + 1] * c + Q[i + 1] * s;
        }
    }
}

/* w: (batch, modes) complex64 interleaved; U: per-image target RMS (0: zero field);
 * out: (batch, 2, modes) float32. limiter <= 0: none. Returns the number of images left
 * unlimited because the series bound did not hold; their indices go to `unlimited`. */
ADV_EXPORT int adv_field_finish(const float *w, int64_t batch, int64_t modes, const double *U, double limiter,
                                int joint, float *out, int *unlimited)
{
    int count = 0;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
        const float *wb = w + 2 * b * modes;
        float *vx = out + 2 * b * modes, *vy = vx + modes;
        if (!(U[b] > 0.0)) {
            for (int64_t m = 0; m < modes; ++m) vx[m] = vy[m] = 0.0f;
            continue;
        }
        double sx2 = 0.0, sy2 = 0.0, mx = 0.0, my = 0.0;
        for (int64_t m = 0; m < modes; ++m) {
            const double a = wb[2 * m], c = wb[2 * m + 1];
            sx2 += a * a;
            sy2 += c * c;
            mx = a * a > mx ? a * a : mx;
            my = c * c > my ? c * c : my;
        }
        double ms_x = sx2 / (double)modes, ms_y = sy2 / (double)modes;
        if (joint) ms_x = ms_y = 0.5 * (ms_x + ms_y);
        const double tiny = 1e-300;
        const float fx = (float)(U[b] / sqrt(ms_x > tiny ? ms_x : tiny));
        const float fy = (float)(U[b] / sqrt(ms_y > tiny ? ms_y : tiny));
        int series = 0;
        float inv_c2 = 0.0f;
        if (limiter > 0.0) {
            const double bound = ((double)fx * fx * mx + (double)fy * fy * my) / (limiter * limiter);
            series = bound <= SERIES_MAX_X2;
            inv_c2 = (float)(1.0 / (limiter * limiter));
            if (!series) {
#pragma omp critical
                unlimited[count++] = (int)b;
            }
        }
        if (series) {
            float coef[TANH_TERMS];
            for (int t = 0; t < TANH_TERMS; ++t) coef[t] = (float)TANH_SERIES[t];
#pragma omp simd
            for (int64_t m = 0; m < modes; ++m) {
                const float x = fx * wb[2 * m], y = fy * wb[2 * m + 1];
                const float z = (x * x + y * y) * inv_c2;
                float g = coef[TANH_TERMS - 1];
                for (int t = TANH_TERMS - 2; t >= 0; --t) g = g * z + coef[t];
                vx[m] = x * g;
                vy[m] = y * g;
            }
        } else {
            for (int64_t m = 0; m < modes; ++m) {
                vx[m] = fx * wb[2 * m];
                vy[m] = fy * wb[2 * m + 1];
            }
        }
    }
    return count;
}

static struct PyModuleDef field_module = {PyModuleDef_HEAD_INIT, "_fieldcpu",
                                          "Velocity-field kernels; loaded through ctypes by advdiff.fields.", -1,
                                          NULL};

PyMODINIT_FUNC PyInit__fieldcpu(void) { return PyModule_Create(&field_module); }
