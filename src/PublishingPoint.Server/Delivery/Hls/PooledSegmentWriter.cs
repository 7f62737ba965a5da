using System.Buffers;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>
/// Where a TS segment is written: one array of the fragment pool, asked for once with the segment's exact length.
/// A live segment lives seconds to a minute in the segment cache; from the pool, its array is used again afterwards
/// instead of left on the large object heap, where at 200 channels each second's segments brought on a full collection.
/// </summary>
internal sealed class PooledSegmentWriter : IBufferWriter<byte>
{
    private FragmentBuffer? _buffer;
    private int _written;

    /// <summary>The segment (one reference, the caller's); only once everything asked for was advanced.</summary>
    public FragmentBuffer Take()
    {
        if (_buffer is not { } buffer || _written != buffer.Length)
        {
            throw new InvalidOperationException("the segment was not written whole");
        }

        _buffer = null;
        return buffer;
    }

    /// <summary>Gives the array back when the write failed.</summary>
    public void Abandon() => Interlocked.Exchange(ref _buffer, null)?.Release();

    public void Advance(int count)
    {
        if (_buffer is null || count < 0 || _written + count > _buffer.Length)
        {
            throw new InvalidOperationException("advanced past the segment");
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_buffer is not null)
        {
            throw new InvalidOperationException("a segment is written with one request for its whole length");
        }

        _buffer = FragmentBufferPool.Shared.Rent(Math.Max(sizeHint, 1));
        return _buffer.Memory;
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
}
