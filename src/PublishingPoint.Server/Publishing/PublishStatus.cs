using System.Collections.Concurrent;

namespace PublishingPoint.Server.Publishing;

/// <summary>What the publisher reports: counters for /metrics, the backlog per point, the last error (the store's or the origin's).</summary>
public sealed class PublishStatus
{
    private readonly ConcurrentDictionary<string, long> _backlog = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _puts;
    private long _putBytes;
    private long _deletes;
    private long _failures;
    private long _skipped;
    private long _deleteFailures;

    /// <summary>"s3://bucket/prefix at http://host:port", or null when nothing is published.</summary>
    public string? Target { get; internal set; }

    public long Puts => Interlocked.Read(ref _puts);

    public long PutBytes => Interlocked.Read(ref _putBytes);

    public long Deletes => Interlocked.Read(ref _deletes);

    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>DELETEs of segments that left a window the store refused (the pass goes on; retried later).</summary>
    public long DeleteFailures => Interlocked.Read(ref _deleteFailures);

    /// <summary>Segments the origin dropped (archive length) before they could be published.</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    public string? LastError { get; private set; }

    public DateTimeOffset? LastErrorAt { get; private set; }

    public DateTimeOffset? LastSuccessAt { get; private set; }

    /// <summary>The store answered the last operation (false from a failure until the next success).</summary>
    public bool StoreUp { get; private set; } = true;

    /// <summary>Objects waiting to be published, per point.</summary>
    public IReadOnlyDictionary<string, long> Backlog => _backlog;

    public long TotalBacklog => _backlog.Values.Sum();

    internal void Put(long bytes)
    {
        Interlocked.Increment(ref _puts);
        Interlocked.Add(ref _putBytes, bytes);
        Succeeded();
    }

    internal void Deleted()
    {
        Interlocked.Increment(ref _deletes);
        Succeeded();
    }

    internal void DeleteFailed() => Interlocked.Increment(ref _deleteFailures);

    internal void SkippedSegments(long count) => Interlocked.Add(ref _skipped, count);

    /// <summary>A pass failed: by the store's fault (it is "down" until its next success), or by the origin's own.</summary>
    internal void Failed(string error, DateTimeOffset now, bool byTheStore)
    {
        Interlocked.Increment(ref _failures);
        lock (_lock)
        {
            LastError = byTheStore ? error : "origin, not the store: " + error;
            LastErrorAt = now;
            StoreUp &= !byTheStore;
        }
    }

    internal void SetBacklog(string point, long count) => _backlog[point] = count;

    internal void Forget(string point) => _backlog.TryRemove(point, out _);

    private void Succeeded()
    {
        lock (_lock)
        {
            LastSuccessAt = DateTimeOffset.UtcNow;
            StoreUp = true;
        }
    }
}
