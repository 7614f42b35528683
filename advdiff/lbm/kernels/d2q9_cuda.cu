/*
 * CUDA kernels of the D2Q9 advection-diffusion solver, compiled at run time by
 * NVRTC (CuPy RawModule, or advdiff.lbm.backends.nvrtc in the tests). One thread
 * per node, all planes (images x channels) of a batch in one launch; the per-node
 * work is adv_node_update from d2q9_node.h, the same code the CPU extension runs
 * for its edge columns and that the tests run on the CPU.
 */
#include "d2q9_node.h"

extern "C" __global__ void adv_step(const float *__restrict__ src, float *__restrict__ dst,
                                    const float *__restrict__ vel, int has_vel, int P, int C, int H, int W,
                                    float omega, int collision, int boundary)
{
    if (!has_vel) vel = nullptr; /* CuPy passes a placeholder array when there is no velocity */
    const long long plane = (long long)H * W;
    const long long qstride = (long long)P * plane;
    const long long node = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (node >= plane) return;
    const int y = (int)(node / W), x = (int)(node % W);
    for (int p = blockIdx.y; p < P; p += gridDim.y)
        adv_node_update(src, dst, vel, C, H, W, qstride, p, y, x, omega, collision, boundary);
}

extern "C" __global__ void adv_equilibrium_kernel(const float *__restrict__ rho, const float *__restrict__ vel,
                                                  int has_vel, float *__restrict__ f, int P, int C, int H, int W)
{
    if (!has_vel) vel = nullptr;
    const long long plane = (long long)H * W;
    const long long n = (long long)P * plane;
    const long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n) return;
    adv_init_node(rho, vel, f, C, plane, n, k);
}
