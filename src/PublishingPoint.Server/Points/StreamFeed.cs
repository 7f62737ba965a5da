using PublishingPoint.Server.Archive;

namespace PublishingPoint.Server.Points;

/// <summary>One stream_id of a point: its connections (redundant encoders may share an id) and its archive.</summary>
public sealed class StreamFeed
{
    public StreamFeed(string id) => Id = id;

    public string Id { get; }

    /// <summary>Guarded by the point's lock.</summary>
    public int Connections { get; internal set; }

    public StreamArchive? Archive { get; internal set; }

    public DateTimeOffset? ConnectedSince { get; internal set; }

    private long _fragments;
    private long _bytes;

    public long Fragments => Interlocked.Read(ref _fragments);

    public long Bytes => Interlocked.Read(ref _bytes);

    public void Count(int bytes)
    {
        Interlocked.Increment(ref _fragments);
        Interlocked.Add(ref _bytes, bytes);
    }
}
