using Microsoft.Extensions.Caching.Memory;
using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>Identifies one repackaged segment (or, with <see cref="Part"/> 0 or more, one part of it); <see cref="Sequence"/> -1 is the initialization segment.</summary>
internal readonly record struct HlsSegmentKey(Point Point, TrackKey Track, HlsFormat Format, long Sequence, int Part = -1);

/// <summary>A produced segment: its bytes, and the file copy to send them from when there is one.</summary>
internal readonly record struct ReadySegment(byte[] Bytes, SpooledFile? File);

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
/// With a <see cref="SegmentSpool"/>, each produced segment also gets a <see cref="SpooledFile"/> copy that
/// plain-HTTP/1 viewers are sent from with sendfile; it is closed when the segment leaves the cache.
/// </summary>
internal sealed class HlsSegmentCache(SegmentSpool spool) : IDisposable
{
    private const long SizeLimitBytes = 512L * 1024 * 1024;
    // Live viewers ask for a segment within seconds of its creation; one nobody asked for in a minute is cheaper
    // to repackage again (far faster than real time) than to keep: memory stays flat once the windows are full.
    private static readonly TimeSpan _idle = TimeSpan.FromSeconds(60);
    private static readonly PostEvictionDelegate _closeFile = static (_, value, _, _) => (value as Entry)?.Close();
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = SizeLimitBytes, ExpirationScanFrequency = TimeSpan.FromSeconds(10) });
    private readonly Lock _lock = new();
    private long _produced;
    private long _requests;

    /// <summary>How many packaging runs started: a test hook for "produced once".</summary>
    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>How many segments were asked for; those not <see cref="Produced"/> were cache hits.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>The bytes of a segment already produced: the hot path of a popular segment, no locks, no copies.</summary>
    public bool TryGetReady(HlsSegmentKey key, out ReadySegment segment)
    {
        if (_cache.TryGetValue(key, out Entry? entry) && entry is { Bytes: { IsValueCreated: true, Value.IsCompletedSuccessfully: true } bytes })
        {
            Interlocked.Increment(ref _requests);
            segment = new ReadySegment(bytes.Value.Result, entry.File);
            return true;
        }

        segment = default;
        return false;
    }

    public async Task<byte[]> GetOrProduceAsync(HlsSegmentKey key, long sizeEstimate, Func<Task<byte[]>> produce) =>
        (await GetOrProduceSegmentAsync(key, sizeEstimate, produce).ConfigureAwait(false)).Bytes;

    /// <summary>The segment, produced once (and spooled to a file when it is large enough to be worth sendfile).</summary>
    public async Task<ReadySegment> GetOrProduceSegmentAsync(HlsSegmentKey key, long sizeEstimate, Func<Task<byte[]>> produce)
    {
        ArgumentNullException.ThrowIfNull(produce);
        Interlocked.Increment(ref _requests);
        Entry? entry;
        lock (_lock)
        {
            if (!_cache.TryGetValue(key, out entry) || entry is null)
            {
                entry = new Entry(
                    () =>
                    {
                        Interlocked.Increment(ref _produced);
                        return produce();
                    },
                    spool);
                _cache.Set(key, entry, new MemoryCacheEntryOptions { Size = Math.Max(sizeEstimate, 1), SlidingExpiration = _idle }.RegisterPostEvictionCallback(_closeFile));
            }
        }

        var task = entry.Bytes.Value;
        if (!task.IsCompletedSuccessfully)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch
            {
                Forget(key, entry);
                throw;
            }
        }

        return new ReadySegment(task.Result, entry.File);
    }

    private void Forget(HlsSegmentKey key, Entry entry)
    {
        lock (_lock)
        {
            if (_cache.TryGetValue(key, out Entry? current) && ReferenceEquals(current, entry))
            {
                _cache.Remove(key);
            }
        }
    }

    // The bytes, produced once, then their spooled copy; an entry evicted before its copy exists closes it on arrival.
    private sealed class Entry
    {
        private readonly Lock _lock = new();
        private SpooledFile? _file;
        private bool _closed;

        public Entry(Func<Task<byte[]>> produce, SegmentSpool spool) =>
            Bytes = new Lazy<Task<byte[]>>(async () =>
            {
                var bytes = await produce().ConfigureAwait(false);
                Attach(spool.TryWrite(bytes));
                return bytes;
            });

        public Lazy<Task<byte[]>> Bytes { get; }

        public SpooledFile? File => Volatile.Read(ref _file);

        public void Close()
        {
            lock (_lock)
            {
                _closed = true;
                _file?.Dispose();
            }
        }

        private void Attach(SpooledFile? file)
        {
            lock (_lock)
            {
                if (_closed)
                {
                    file?.Dispose();
                }
                else
                {
                    Volatile.Write(ref _file, file);
                }
            }
        }
    }

    public void Dispose() => _cache.Dispose();
}
