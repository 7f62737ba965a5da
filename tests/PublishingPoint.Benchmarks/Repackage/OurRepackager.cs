using System.Diagnostics;
using System.Security.Cryptography;
using PublishingPoint.Server.Delivery.Hls;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Benchmarks.Repackage;

/// <summary>Figures of one rendition: output size, timings of whole passes over all its segments, allocations.</summary>
internal sealed record Measurement(
    string Rendition,
    int Segments,
    double MediaSeconds,
    long OutputBytes,
    double BestSeconds,
    double MedianSeconds,
    int Runs,
    double? AllocatedBytesPerSegment)
{
    /// <summary>SHA-256 of every segment in order (ours): equal digests on the same input mean byte-identical output.</summary>
    public string? OutputSha256 { get; init; }

    public double MegabytesPerSecond => OutputBytes / 1e6 / BestSeconds;

    public double RealTimeFactor => MediaSeconds / BestSeconds;
}

/// <summary>
/// Our repackaging, called directly (no HTTP, no segment cache): every TS segment of one video track with the
/// point's audio muxed in, exactly as <c>HlsDelivery</c> produces a segment on a cache miss.
/// </summary>
internal static class OurRepackager
{
    public static async Task<Measurement> MeasureAsync(Point point, Track video, Track? audio, int iterations, CancellationToken cancellationToken)
    {
        var fragments = video.Snapshot();
        if (fragments.Length == 0)
        {
            throw new InvalidOperationException($"{video.Key} has no fragments");
        }

        if (fragments.Any(f => !f.IsInMemory) || (audio is not null && audio.Snapshot().Any(f => !f.IsInMemory)))
        {
            throw new InvalidOperationException("fragments were evicted from memory: the benchmark would measure disk reads");
        }

        var timescale = video.Description.Timescale;
        var segments = HlsTimeline.Available(fragments, timescale, audio, live: false);
        var mediaSeconds = (double)(HlsTimeline.End(fragments, segments - 1) - fragments[0].Time) / timescale;

        // Warm-up: JIT (tiered up by the repeats), the per-track decode shift, and a check of the output.
        using var digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long outputBytes = 0;
        // Passes for at least 2 s: tiered compilation promotes a method after 30 calls and a 100 ms quiet spell, so three
        // passes of a few milliseconds left parts of the path unoptimised and the best pass varied two- to threefold.
        var warmUp = System.Diagnostics.Stopwatch.StartNew();
        for (var warm = 0; warm < 3 || warmUp.Elapsed < TimeSpan.FromSeconds(2); warm++)
        {
            outputBytes = await OnePassAsync(point, video, audio, fragments, segments, warm == 0 ? digest : null, cancellationToken);
        }

        var times = new double[iterations];
        long allocated = 0;
        for (var i = 0; i < iterations; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var thread = Environment.CurrentManagedThreadId;
            var clock = Stopwatch.StartNew();
            await OnePassAsync(point, video, audio, fragments, segments, null, cancellationToken);
            times[i] = clock.Elapsed.TotalSeconds;
            // Every await completes synchronously (fragments in memory), so the pass ran on this thread.
            allocated = thread == Environment.CurrentManagedThreadId && allocated >= 0
                ? allocated + (GC.GetAllocatedBytesForCurrentThread() - before)
                : -1;
        }

        Array.Sort(times);
        return new Measurement(video.Key.ToString(), segments, mediaSeconds, outputBytes, times[0], times[times.Length / 2], iterations,
            allocated < 0 ? null : (double)allocated / ((long)segments * iterations))
        {
            OutputSha256 = Convert.ToHexStringLower(digest.GetHashAndReset()),
        };
    }

    private static async Task<long> OnePassAsync(Point point, Track video, Track? audio, FragmentEntry[] fragments, int segments, IncrementalHash? check, CancellationToken cancellationToken)
    {
        long bytes = 0;
        for (var n = 0; n < segments; n++)
        {
            var buffer = await HlsPackager.TsSegmentAsync(point, video, audio, fragments, n, n, cancellationToken).ConfigureAwait(false);
            try
            {
                var segment = buffer.Span;
                check?.AppendData(segment);
                if (check is not null && (segment.Length == 0 || segment.Length % 188 != 0 || segment[0] != 0x47))
                {
                    throw new InvalidOperationException($"{video.Key} segment {n} is not a transport stream ({segment.Length} bytes)");
                }

                bytes += segment.Length;
            }
            finally
            {
                buffer.Release();
            }
        }

        return bytes;
    }
}
