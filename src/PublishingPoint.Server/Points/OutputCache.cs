namespace PublishingPoint.Server.Points;

/// <summary>A manifest, playlist or MPD as rendered for one version of its point's index.</summary>
public sealed record RenderedOutput(long Version, byte[] Bytes, string ETag, int MaxAge, string ContentType)
{
    private byte[]? _gzipped;
    private readonly Lock _gzipping = new();
    private string? _gzipETag;

    /// <summary>
    /// The tag of the gzip copy: a strong tag names one representation, and the gzip body is another than the plain one
    /// (RFC 9110 8.8.3), so a cache never confirms or joins one with the other's tag.
    /// </summary>
    public string GzipETag => _gzipETag ??= ETag.EndsWith('"') ? string.Concat(ETag.AsSpan(0, ETag.Length - 1), "-gz\"") : ETag + "-gz";

    /// <summary>The gzip copy, made once on the first request that accepts it: those asking meanwhile wait for that one.</summary>
    public byte[] Gzipped(Func<byte[], byte[]> compress)
    {
        ArgumentNullException.ThrowIfNull(compress);
        if (Volatile.Read(ref _gzipped) is { } made)
        {
            return made;
        }

        lock (_gzipping)
        {
            return _gzipped ??= compress(Bytes);
        }
    }

    private Task<byte[]>? _gzippingOnThePool;

    /// <summary>Whether the gzip copy is made already.</summary>
    public bool HasGzipped => Volatile.Read(ref _gzipped) is not null;

    /// <summary>The gzip copy, made once on the pool: those asking while it is made wait for that one.</summary>
    public Task<byte[]> GzippedAsync(Func<byte[], byte[]> compress)
    {
        ArgumentNullException.ThrowIfNull(compress);
        if (Volatile.Read(ref _gzipped) is { } made)
        {
            return Task.FromResult(made);
        }

        var making = Volatile.Read(ref _gzippingOnThePool);
        if (making is { IsFaulted: false, IsCanceled: false })
        {
            return making;
        }

        // (one that failed is not kept: the next request tries again)
        var task = new Task<byte[]>(() => Gzipped(compress));
        var won = Interlocked.CompareExchange(ref _gzippingOnThePool, task, making);
        if (!ReferenceEquals(won, making))
        {
            return won!;
        }

        task.Start(TaskScheduler.Default);
        return task;
    }

    /// <summary>Bytes counted against the cache: the plain copy and room for the gzip one (never larger, bar a few bytes).</summary>
    public long Size => (2L * Bytes.Length) + 128;
}

/// <summary>
/// A point's rendered outputs, keyed by resource name ("master.m3u8", "hls/video-400000.m3u8", "manifest.mpd",
/// "Manifest") and valid for the index version they were rendered from. Bounded by bytes (least recently used go
/// first, a key counted with its output); one per point for the live and VOD renderings, one for the server for
/// time-shifted ones (<see cref="Delivery.ShiftedOutputs"/>).
/// </summary>
public sealed class OutputCache(long maxBytes)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<(string Key, RenderedOutput Output)>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Key, RenderedOutput Output)> _recency = [];
    private long _bytes;

    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    public bool TryGet(string key, long version, out RenderedOutput output)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var node) && node.Value.Output.Version == version)
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                output = node.Value.Output;
                return true;
            }
        }

        output = null!;
        return false;
    }

    public void Set(string key, RenderedOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        lock (_lock)
        {
            if (_entries.Remove(key, out var old))
            {
                _recency.Remove(old);
                _bytes -= SizeOf(old.Value.Key, old.Value.Output);
            }

            _entries[key] = _recency.AddFirst((key, output));
            _bytes += SizeOf(key, output);
            while (_bytes > maxBytes && _recency.Last is { } last && last != _recency.First)
            {
                _recency.RemoveLast();
                _entries.Remove(last.Value.Key);
                _bytes -= SizeOf(last.Value.Key, last.Value.Output);
            }
        }
    }

    // A time-shifted answer's key holds its resource and times (a master's, its whole query): as long as a client makes it; 256 for the entry's own objects.
    private static long SizeOf(string key, RenderedOutput output) => output.Size + (2L * key.Length) + 256;

    public void Clear()
    {
        lock (_lock)
        {
            _entries.Clear();
            _recency.Clear();
            _bytes = 0;
        }
    }
}
