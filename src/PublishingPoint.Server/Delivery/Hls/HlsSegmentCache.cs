using Microsoft.Extensions.Caching.Memory;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>Identifies one repackaged segment; <see cref="Sequence"/> -1 is the initialization segment.</summary>
internal readonly record struct HlsSegmentKey(Point Point, TrackKey Track, HlsFormat Format, long Sequence);

internal enum HlsFormat
{
    Ts,
    Fmp4,
}

/// <summary>
/// Repackaged segments, produced once: the first request stores a lazy task under the key (under a lock, so
/// concurrent requests for a new segment share one packaging run) and later requests await the same task.
/// Bounded by bytes; a failed run is dropped so the next request tries again. Runs are not tied to the request
/// that started them (callers wait with their own cancellation), so one aborted player cannot fail the others.
/// </summary>
internal sealed class HlsSegmentCache : IDisposable
{
    private const long SizeLimitBytes = 512L * 1024 * 1024;
    // Live viewers ask for a segment within seconds of its creation; one nobody asked for in a minute is cheaper
    // to repackage again (far faster than real time) than to keep: memory stays flat once the windows are full.
    private static readonly TimeSpan _idle = TimeSpan.FromSeconds(60);
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = SizeLimitBytes, ExpirationScanFrequency = TimeSpan.FromSeconds(10) });
    private readonly Lock _lock = new();
    private long _produced;
    private long _requests;

    /// <summary>How many packaging runs started: a test hook for "produced once".</summary>
    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>How many segments were asked for; those not <see cref="Produced"/> were cache hits.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>The bytes of a segment already produced: the hot path of a popular segment, no locks, no copies.</summary>
    public bool TryGetReady(HlsSegmentKey key, out byte[] bytes)
    {
        if (_cache.TryGetValue(key, out Lazy<Task<byte[]>>? lazy) && lazy is { IsValueCreated: true, Value.IsCompletedSuccessfully: true })
        {
            Interlocked.Increment(ref _requests);
            bytes = lazy.Value.Result;
            return true;
        }

        bytes = [];
        return false;
    }

    public Task<byte[]> GetOrProduceAsync(HlsSegmentKey key, long sizeEstimate, Func<Task<byte[]>> produce)
    {
        ArgumentNullException.ThrowIfNull(produce);
        Interlocked.Increment(ref _requests);
        Lazy<Task<byte[]>>? lazy;
        lock (_lock)
        {
            if (!_cache.TryGetValue(key, out lazy) || lazy is null)
            {
                lazy = new Lazy<Task<byte[]>>(() =>
                {
                    Interlocked.Increment(ref _produced);
                    return produce();
                });
                _cache.Set(key, lazy, new MemoryCacheEntryOptions { Size = Math.Max(sizeEstimate, 1), SlidingExpiration = _idle });
            }
        }

        var task = lazy.Value;
        if (!task.IsCompletedSuccessfully)
        {
            _ = task.ContinueWith(
                (t, state) => ((HlsSegmentCache)state!).Forget(key, lazy),
                this,
                CancellationToken.None,
                TaskContinuationOptions.NotOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        return task;
    }

    private void Forget(HlsSegmentKey key, Lazy<Task<byte[]>> lazy)
    {
        lock (_lock)
        {
            if (_cache.TryGetValue(key, out Lazy<Task<byte[]>>? current) && ReferenceEquals(current, lazy))
            {
                _cache.Remove(key);
            }
        }
    }

    public void Dispose() => _cache.Dispose();
}
