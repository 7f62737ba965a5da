using PublishingPoint.Server.Archive;

namespace PublishingPoint.Server.Points;

/// <summary>One stream_id of a point: its connections (redundant encoders may share an id) and its archive.</summary>
public sealed class StreamFeed
{
    public StreamFeed(string id) => Id = id;

    public string Id { get; }

    /// <summary>Guarded by the point's lock.</summary>
    public int Connections { get; internal set; }

    public StreamArchive? Archive
    {
        get => _archive;
        internal set
        {
            _archive = value;
            if (value is not null)
            {
                _headerReady.TrySetResult();
            }
        }
    }

    /// <summary>Completes once the stream has an initialization (its first 'moov' was accepted).</summary>
    public Task HeaderReady => _headerReady.Task;

    public DateTimeOffset? ConnectedSince { get; internal set; }

    /// <summary>When its encoder last announced its end (a segment pusher's final playlist), under the point's lock.</summary>
    internal DateTimeOffset? EndedAt { get; set; }

    private long _tsTimeline = long.MinValue;

    /// <summary>
    /// Where the stream's MPEG-TS timeline stood at its newest accepted fragment (90 kHz, unwrapped): the next input
    /// (the next HLS segment PUT, a reconnected push, while the old connection is still open too) continues from it,
    /// across the 2^33 wrap. Null before any; in memory only.
    /// </summary>
    public long? TsTimeline90k => Interlocked.Read(ref _tsTimeline) is var last && last != long.MinValue ? last : null;

    public void NoteTsTimeline(long at90k) => Interlocked.Exchange(ref _tsTimeline, at90k);

    /// <summary>Archive files this stream started because its header changed (rollover files do not count). Guarded by the point's lock.</summary>
    public int ArchiveRuns { get; internal set; }

    /// <summary>Bytes of the headers of those files together (<see cref="Point.MaxHeaderBytesPerStream"/>). Guarded by the point's lock.</summary>
    public long HeaderBytes { get; internal set; }

    /// <summary>
    /// Held while the stream's archive file changes (a first header, a new one, a rollover): redundant encoders may push
    /// one stream id at once. Players never take it, unlike the point's lock.
    /// </summary>
    internal Lock ArchiveChange { get; } = new();

    public string? RemoteAddress { get; internal set; }

    public DateTimeOffset? LastFragmentAt { get; private set; }

    private readonly TaskCompletionSource _headerReady = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private StreamArchive? _archive;
    private long _fragments;
    private long _bytes;

    public long Fragments => Interlocked.Read(ref _fragments);

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Ingest bytes as a rate over the last minutes.</summary>
    public RateHistory Bitrate { get; } = new();

    public void Count(int bytes, DateTimeOffset now)
    {
        LastFragmentAt = now;
        Bitrate.Add(bytes, now);
        Interlocked.Increment(ref _fragments);
        Interlocked.Add(ref _bytes, bytes);
    }
}
