using Microsoft.Extensions.Options;
using PublishingPoint.Server.Configuration;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// The bytes ingest holds before they are indexed (boxes being received, low-latency chunks waiting for their
/// keyframe, MPEG-TS fragments waiting for the other tracks), bounded per connection, per point and per server.
/// Buffers grow as bytes arrive and reserve as they grow, so a client that announces a huge box and trickles it
/// pins no more than it sent, and many such clients together no more than the server's bound.
/// </summary>
internal sealed class IngestMemory(IOptions<PublishingPointOptions> options)
{
    private readonly PublishingPointOptions _options = options.Value;
    private long _total;

    /// <summary>Bytes held by every ingest connection now.</summary>
    public long Total => Interlocked.Read(ref _total);

    public IngestMemoryAccount Open(Point point) => new(this, point, _options.MaxIngestBytesPerConnection);

    internal void Reserve(Point point, long bytes)
    {
        if (Take(point, bytes) is { } refusal)
        {
            throw new PointRuleException(StatusCodes.Status503ServiceUnavailable, refusal);
        }
    }

    internal bool TryReserve(Point point, long bytes) => Take(point, bytes) is null;

    // Null when taken, else why not.
    private string? Take(Point point, long bytes)
    {
        if (Interlocked.Add(ref _total, bytes) > _options.MaxIngestBytesPerServer)
        {
            Interlocked.Add(ref _total, -bytes);
            return $"the server holds its maximum of {_options.MaxIngestBytesPerServer} bytes of incoming media; try again shortly";
        }

        if (point.AddIngestBytes(bytes) > _options.MaxIngestBytesPerPoint)
        {
            point.AddIngestBytes(-bytes);
            Interlocked.Add(ref _total, -bytes);
            return $"the point holds its maximum of {_options.MaxIngestBytesPerPoint} bytes of incoming media; try again shortly";
        }

        return null;
    }

    internal void Release(Point point, long bytes)
    {
        point.AddIngestBytes(-bytes);
        Interlocked.Add(ref _total, -bytes);
    }
}

/// <summary>What one ingest connection holds; everything still held is given back when it is disposed. Not thread-safe: one per session.</summary>
internal sealed class IngestMemoryAccount(IngestMemory pool, Point point, long limit) : IDisposable
{
    private long _held;

    public long Held => _held;

    /// <summary>The most this connection may hold (MaxIngestBytesPerConnection).</summary>
    public long Limit => limit;

    /// <summary>Takes <paramref name="bytes"/> more, or refuses: 413 over the connection's bound, 503 over the point's or the server's.</summary>
    public void Reserve(long bytes)
    {
        if (bytes <= 0)
        {
            return;
        }

        if (_held + bytes > limit)
        {
            throw new PointRuleException(StatusCodes.Status413PayloadTooLarge,
                $"this connection would hold {_held + bytes} bytes of media not yet indexed; the limit is {limit}");
        }

        pool.Reserve(point, bytes);
        _held += bytes;
    }

    /// <summary>Takes <paramref name="bytes"/> more if every bound allows it; for what may be skipped instead of refusing the body.</summary>
    public bool TryReserve(long bytes)
    {
        if (bytes <= 0)
        {
            return true;
        }

        if (_held + bytes > limit || !pool.TryReserve(point, bytes))
        {
            return false;
        }

        _held += bytes;
        return true;
    }

    public void Release(long bytes)
    {
        bytes = Math.Min(bytes, _held);
        if (bytes <= 0)
        {
            return;
        }

        _held -= bytes;
        pool.Release(point, bytes);
    }

    public void Dispose() => Release(_held);
}
