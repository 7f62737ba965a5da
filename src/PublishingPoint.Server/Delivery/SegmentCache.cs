using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using PublishingPoint.Server.Configuration;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Repackaged segments and parts (HLS, and DASH through the same fMP4 ones) and Smooth fragments as answered, each
/// produced once: the first request stores a lazy task under the key (under its key's lock, so
/// concurrent requests for a new segment share one packaging run) and later requests await the same task.
/// Bounded by bytes; a failed run is dropped so the next request tries again. Runs are not tied to the request
/// that started them (callers wait with their own cancellation), so one aborted player cannot fail the others.
/// With a <see cref="SegmentSpool"/>, a produced segment of <see cref="DirectSend.SendFileMinimumBytes"/> or more that is
/// asked for <see cref="SegmentSpool.AtRequest"/> times is kept from then on as a <see cref="SpooledFile"/> instead of
/// in memory (plain-HTTP/1 viewers get it with sendfile, others read from it through the page cache): a popular segment
/// leaves like a static file from nginx, one asked for once or twice (behind a CDN) costs no file; the file is closed
/// when the segment leaves the cache. (What players that stop reading still hold after a segment left the cache is
/// bounded with every other answer waiting for its client: <see cref="UnsentAnswers"/>.)
/// </summary>
internal sealed class SegmentCache : IDisposable
{
    // Live viewers ask for a segment within seconds of its creation; one nobody asked for in a minute is cheaper
    // to repackage again (far faster than real time) than to keep: memory stays flat once the windows are full.
    private static readonly TimeSpan _idle = TimeSpan.FromSeconds(60);
    private static readonly PostEvictionDelegate _closeFile = static (_, value, _, cache) =>
    {
        if (value is Entry entry)
        {
            Interlocked.Add(ref ((SegmentCache)cache!)._excess, -entry.Close());
        }
    };
    private readonly MemoryCache _cache;
    private readonly SegmentSpool _spool;
    private readonly ProductionLane? _lane;
    private readonly long _sizeLimit;
    private readonly Lock[] _stripes = [.. Enumerable.Range(0, 64).Select(_ => new Lock())];
    private readonly Lock _compaction = new();
    private long _held;

    // What the cache's entries hold beyond the estimates they went in with (a segment's size is known once it is made):
    // counted with the cache's own sizes wherever the bound is kept.
    private long _excess;
    private long _produced;
    private long _requests;

    private readonly OrphanedRuns _orphaned;

    public SegmentCache(SegmentSpool spool, IOptions<PublishingPointOptions> options, ProductionLane lane)
        : this(spool, (options ?? throw new ArgumentNullException(nameof(options))).Value.SegmentCacheMegabytes * 1024L * 1024, lane,
            options.Value.MaxProductionsPerAddress, ClientNetwork.Trusted(options.Value.TrustedProxies))
    {
    }

    internal SegmentCache(SegmentSpool spool, long sizeLimit, ProductionLane? lane = null, int maxProductionsPerAddress = 0, System.Net.IPNetwork[]? trusted = null)
    {
        _spool = spool;
        _lane = lane;
        _sizeLimit = sizeLimit;
        _orphaned = new(maxProductionsPerAddress, sizeLimit / 2, trusted ?? []);
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = sizeLimit, TrackStatistics = true, ExpirationScanFrequency = TimeSpan.FromSeconds(10) });
    }

    /// <summary>The estimated bytes of productions still going that players left (<see cref="OrphanedRuns"/>).</summary>
    internal long OrphanedBytes => _orphaned.Bytes;

    /// <summary>How many productions players left are still going.</summary>
    internal int OrphanedRuns => _orphaned.Runs;

    /// <summary>How many packaging runs started: a test hook for "produced once".</summary>
    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>How many segments were asked for; those not <see cref="Produced"/> were cache hits.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>A segment already produced (release it after the answer): the hot path of a popular segment, no locks, no copies.</summary>
    public bool TryGetReady<TKey>(TKey key, out ReadySegment segment)
        where TKey : struct, IEquatable<TKey> =>
        TryGetReady(key, out segment, out _);

    /// <summary>
    /// The same for a key boxed once by a caller that asks for it again and again (a kept answer's segment), with the
    /// entry's <see cref="Presence"/>: whether the cache has let it go since.
    /// </summary>
    public bool TryGetReady(object key, out ReadySegment segment, [NotNullWhen(true)] out Presence? presence)
    {
        if (_cache.TryGetValue(key, out Entry? entry) && entry is { IsReady: true } && entry.TryAcquire(out segment))
        {
            Interlocked.Increment(ref _requests);
            presence = entry.Presence;
            return true;
        }

        segment = default;
        presence = null;
        return false;
    }

    /// <summary>The <see cref="Presence"/> of the entry under <paramref name="key"/>; null when there is none.</summary>
    public Presence? PresenceOf(object key) => _cache.TryGetValue(key, out Entry? entry) ? entry?.Presence : null;

    /// <summary>Lets the entry under <paramref name="key"/> go now, as the cache does when it is idle or the cache is full.</summary>
    internal void Evict(object key) => _cache.Remove(key);

    /// <summary>Whether a cache entry was evicted: a few bytes that say so without holding the entry (or its bytes).</summary>
    internal sealed class Presence
    {
        private volatile bool _evicted;

        public bool Evicted => _evicted;

        public void Evict() => _evicted = true;
    }

    /// <summary>The segment's bytes (read back from its file copy when it has one): for callers that need them all.</summary>
    public Task<byte[]> GetOrProduceAsync<TKey>(TKey key, long sizeEstimate, Func<Task<byte[]>> produce)
        where TKey : struct, IEquatable<TKey> =>
        GetOrProduceAsync(key, sizeEstimate, Wrapped(produce));

    /// <summary>The same for a producer whose bytes may be pooled (they are copied out).</summary>
    public async Task<byte[]> GetOrProduceAsync<TKey>(TKey key, long sizeEstimate, Func<Task<FragmentBuffer>> produce)
        where TKey : struct, IEquatable<TKey>
    {
        var segment = await GetOrProduceSegmentAsync(key, sizeEstimate, produce).ConfigureAwait(false);
        try
        {
            return segment.ToArray();
        }
        finally
        {
            segment.Release();
        }
    }

    /// <summary>
    /// The same, waited for with the request's token: a request that gives up does not stop the run, and the segment it
    /// would have been given is released when it arrives.
    /// </summary>
    /// <param name="client">The player's address: one that left too many productions going may not start another
    /// (<see cref="OrphanedRuns"/>; <see cref="SegmentUnavailableException"/>).</param>
    public Task<ReadySegment> GetOrProduceSegmentAsync<TKey>(TKey key, long sizeEstimate, Func<Task<byte[]>> produce, System.Net.IPAddress? client, CancellationToken cancellationToken)
        where TKey : struct, IEquatable<TKey> =>
        GetOrProduceSegmentAsync(key, sizeEstimate, Wrapped(produce), client, cancellationToken);

    /// <summary>The same for a producer whose bytes may be pooled: the cache holds a reference while it keeps them.</summary>
    public async Task<ReadySegment> GetOrProduceSegmentAsync<TKey>(TKey key, long sizeEstimate, Func<Task<FragmentBuffer>> produce, System.Net.IPAddress? client, CancellationToken cancellationToken)
        where TKey : struct, IEquatable<TKey>
    {
        var asker = new Asker(client);
        var task = ProduceAsync(key, sizeEstimate, produce, asker);
        try
        {
            return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            if (asker.Started)
            {
                _orphaned.Left(client, Math.Max(sizeEstimate, 1), task); // once a run, by the request that started it
            }

            _ = task.ContinueWith(static t => t.Result.Release(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            throw;
        }
    }

    /// <summary>The segment, produced once (release it after the answer).</summary>
    public Task<ReadySegment> GetOrProduceSegmentAsync<TKey>(TKey key, long sizeEstimate, Func<Task<FragmentBuffer>> produce)
        where TKey : struct, IEquatable<TKey> =>
        ProduceAsync(key, sizeEstimate, produce, null);

    // A player's request (null for the server's own): it may be refused a new production (OrphanedRuns), and notes
    // whether it started one.
    private sealed class Asker(System.Net.IPAddress? client)
    {
        public System.Net.IPAddress? Client => client;

        public bool Started { get; set; }
    }

    private async Task<ReadySegment> ProduceAsync<TKey>(TKey key, long sizeEstimate, Func<Task<FragmentBuffer>> produce, Asker? asker)
        where TKey : struct, IEquatable<TKey>
    {
        ArgumentNullException.ThrowIfNull(produce);
        Interlocked.Increment(ref _requests);
        // A segment evicted between its production and this lease has closed its file: produce it again.
        for (var attempt = 0; ; attempt++)
        {
            var entry = EntryFor(key, sizeEstimate, produce, asker);
            var task = entry.Ready.Value;
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

            if (entry.TryAcquire(out var segment))
            {
                return segment;
            }

            Forget(key, entry);
            if (attempt == 2)
            {
                throw new SegmentUnavailableException("the segment left the cache three times before it could be sent");
            }
        }
    }

    private static Func<Task<FragmentBuffer>> Wrapped(Func<Task<byte[]>> produce)
    {
        ArgumentNullException.ThrowIfNull(produce);
        return async () => FragmentBuffer.Wrap(await produce().ConfigureAwait(false));
    }

    // One entry per key: requests for the same segment take the same lock, one of a few dozen, so that the misses for
    // different segments (hundreds at once when a crowd of viewers joins) do not queue behind each other.
    private Lock StripeOf<TKey>(TKey key)
        where TKey : struct, IEquatable<TKey> => _stripes[(key.GetHashCode() & int.MaxValue) % _stripes.Length];

    private Entry EntryFor<TKey>(TKey key, long sizeEstimate, Func<Task<FragmentBuffer>> produce, Asker? asker)
        where TKey : struct, IEquatable<TKey>
    {
        if (_cache.TryGetValue(key, out Entry? found) && found is not null)
        {
            return found;
        }

        MakeRoom(sizeEstimate);
        lock (StripeOf(key))
        {
            if (_cache.TryGetValue(key, out Entry? existing) && existing is not null)
            {
                return existing;
            }

            if (asker is not null)
            {
                if (_orphaned.Refusal(asker.Client) is { } refusal)
                {
                    throw new SegmentUnavailableException(refusal);
                }

                asker.Started = true;
            }

            Entry? entry = null;
            entry = new Entry(
                async () =>
                {
                    Interlocked.Increment(ref _produced);
                    var buffer = await produce().ConfigureAwait(false);
                    if (buffer.Length > Math.Max(sizeEstimate, 1))
                    {
                        Interlocked.Add(ref _excess, entry!.AddExcess(buffer.Length - Math.Max(sizeEstimate, 1)));
                        MakeRoom(0);
                    }

                    return buffer;
                },
                _spool,
                _lane);
            _cache.Set(key, entry, Options(sizeEstimate));
            return entry;
        }
    }

    // A segment larger than its estimate (a TS segment of little video muxes all of its audio, which the estimate
    // leaves out) counts its excess from when it is made until it leaves (see _excess).
    private MemoryCacheEntryOptions Options(long size) =>
        new MemoryCacheEntryOptions { Size = Math.Max(size, 1), SlidingExpiration = _idle }.RegisterPostEvictionCallback(_closeFile, this);

    // A full MemoryCache refuses the entry being added (and compacts later): the newest segment, the one every live
    // viewer is about to ask for, would be produced once per request. Room is made first instead, by dropping the fifth
    // of the cache asked for least recently once it is seven eighths full: by the request that finds it so, while those
    // that come meanwhile go on into the last eighth instead of waiting for a compaction (which sorts the whole cache,
    // and under a crowd of joining viewers made a queue of threads behind the one doing it). The cache's statistics
    // (which count its entries under all its locks) are read only when an estimate kept here says it is that full:
    // what it held when last read plus every segment added since (those that left are not subtracted).
    private void MakeRoom(long size)
    {
        var full = _sizeLimit - (_sizeLimit / 8);
        if (Interlocked.Add(ref _held, size) + Volatile.Read(ref _excess) <= full || !_compaction.TryEnter())
        {
            return;
        }

        try
        {
            // One compaction a time it is found full: the excess of the segments it drops is given back by their
            // eviction callbacks, which run later on the pool, so a loop here would drop most of the cache.
            var held = Held();
            if (held + Volatile.Read(ref _excess) + size > full)
            {
                _cache.Compact(0.2);
                held = Held();
            }

            Volatile.Write(ref _held, held + size);
        }
        finally
        {
            _compaction.Exit();
        }
    }

    private long Held() => _cache.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0;

    /// <summary>The sizes the entries were given (what the bound is kept on).</summary>
    internal long AccountedBytes => Held() + Volatile.Read(ref _excess);

    // Segments in memory are bounded by the cache's size however long the answers holding them take (a player that stops
    // reading keeps its segment after the cache let it go): past that bound a new segment is kept as a spooled file
    // from the start (the page cache holds its bytes, and the kernel can take them back), and past twice the bound,
    // with no spool to take it, it is refused rather than held.
    private void Forget<TKey>(TKey key, Entry entry)
        where TKey : struct, IEquatable<TKey>
    {
        lock (StripeOf(key))
        {
            if (_cache.TryGetValue(key, out Entry? current) && ReferenceEquals(current, entry))
            {
                _cache.Remove(key);
            }
        }
    }

    // Produced once; then its bytes, and from the spool's request on (SpoolAtRequest) its spooled file instead. The
    // entry holds one reference on the bytes while it keeps them: it lets go when the file takes their place or the
    // segment leaves the cache, and the array goes back to its pool once the requests answered from it are done too.
    private sealed class Entry
    {
        private readonly Lock _lock = new();
        private readonly SegmentSpool _spool;
        private FragmentBuffer? _buffer;
        private SpooledFile? _file;
        private bool _closed;
        private int _asked;

        public Entry(Func<Task<FragmentBuffer>> produce, SegmentSpool spool, ProductionLane? lane)
        {
            _spool = spool;
            Ready = new Lazy<Task>(async () =>
            {
                // The factory runs under the Lazy's lock, which the other requests for this segment wait on with their
                // threads: the production goes on in the production lane, not on this request's stack.
                await ProductionLane.Enter(lane);

                var buffer = await produce().ConfigureAwait(false);
                lock (_lock)
                {
                    if (!_closed)
                    {
                        Volatile.Write(ref _buffer, buffer);
                        return;
                    }
                }

                // Evicted while it was being made: the requests waiting for it are still answered, from bytes the
                // collector reclaims (a pooled array would never be given back: the cache's reference is gone).
                Volatile.Write(ref _buffer, buffer.IsPooled ? FragmentBuffer.Wrap(buffer.ToExactArray()) : buffer);
                if (buffer.IsPooled)
                {
                    buffer.Release();
                }
            });
        }

        public Lazy<Task> Ready { get; }

        private long _excess;

        /// <summary>Notes bytes beyond the estimate; what it noted (nothing once the entry has left the cache).</summary>
        public long AddExcess(long bytes)
        {
            lock (_lock)
            {
                if (_closed)
                {
                    return 0;
                }

                _excess += bytes;
                return bytes;
            }
        }

        public bool IsReady => Ready.IsValueCreated && Ready.Value.IsCompletedSuccessfully;

        public bool TryAcquire(out ReadySegment segment)
        {
            var buffer = Volatile.Read(ref _buffer);
            if (buffer is not null && Volatile.Read(ref _asked) < _spool.AtRequest && Interlocked.Increment(ref _asked) == _spool.AtRequest)
            {
                if (Thread.CurrentThread.IsThreadPoolThread || ProductionLane.OnLaneThread)
                {
                    Spool(buffer);
                }
                else
                {
                    // An event thread (a cached segment's answer): the file's creation and write would hold up every
                    // other connection of the thread, so the copy is made on the pool and this answer goes from memory.
                    ThreadPool.UnsafeQueueUserWorkItem(static state => state.Entry.Spool(state.Buffer), (Entry: this, Buffer: buffer), preferLocal: false);
                }
            }

            if (Volatile.Read(ref _file) is { } file && file.TryLease())
            {
                segment = new ReadySegment(null, file);
                return true;
            }

            // The bytes read above, even if the spool has taken their place since, as long as someone still holds them.
            if (buffer is not null && buffer.TryRetain())
            {
                segment = new ReadySegment(buffer, null);
                return true;
            }

            segment = default;
            return false;
        }

        public Presence Presence { get; } = new();

        /// <summary>The entry left the cache: its file closes and its bytes go back; returns the excess it had noted.</summary>
        public long Close()
        {
            Presence.Evict();
            long excess;
            lock (_lock)
            {
                _closed = true;
                _file?.Dispose();
                excess = _excess;
                _excess = 0;
            }

            // Pooled bytes go back once the answers holding them are done; others stay for requests that already found
            // this entry (as a spooled file's lease does), and the collector takes them with it.
            if (Volatile.Read(ref _buffer) is { IsPooled: true })
            {
                Interlocked.Exchange(ref _buffer, null)?.Release();
            }

            return excess;
        }

        // Exactly one request gets here: the copy replaces the bytes, which the requests holding them keep until they are done.
        private void Spool(FragmentBuffer buffer)
        {
            if (!buffer.TryRetain())
            {
                return;
            }

            SpooledFile? file;
            try
            {
                file = _spool.TryWrite(buffer.Span);
            }
            finally
            {
                buffer.Release();
            }

            lock (_lock)
            {
                if (_closed || file is null)
                {
                    file?.Dispose();
                    return;
                }

                Volatile.Write(ref _file, file);
            }

            Interlocked.Exchange(ref _buffer, null)?.Release();
        }
    }

    public void Dispose() => _cache.Dispose();
}
