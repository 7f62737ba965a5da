namespace PublishingPoint.Server.Points;

/// <summary>
/// A fragment's bytes (moof+mdat as received) at the start of an array that may be longer, shared by the ingest that
/// received it, the index that keeps it while it is the newest, and the repackagings that read it. Each holder has a
/// counted reference; the array goes back to its pool when the last one is released, so nobody may touch
/// <see cref="Array"/> without holding one.
/// </summary>
public sealed class FragmentBuffer
{
    private readonly FragmentBufferPool? _pool;
    private int _references = 1;

    internal FragmentBuffer(byte[] array, int length, FragmentBufferPool? pool)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, array.Length);
        Array = array;
        Length = length;
        _pool = pool;
    }

    /// <summary>An array of exactly the fragment's bytes, not pooled: releasing it leaves it to the garbage collector.</summary>
    public static FragmentBuffer Wrap(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return new FragmentBuffer(bytes, bytes.Length, null);
    }

    public byte[] Array { get; }

    public int Length { get; }

    public Span<byte> Span => Array.AsSpan(0, Length);

    public Memory<byte> Memory => Array.AsMemory(0, Length);

    /// <summary>Whether the array goes back to a pool after the last release (and so may hold other bytes later).</summary>
    public bool IsPooled => _pool is not null;

    /// <summary>The bytes in an array of their exact length that nobody reuses: this one when it is such, else a copy.</summary>
    public byte[] ToExactArray() => !IsPooled && Array.Length == Length ? Array : Span.ToArray();

    /// <summary>One more reference; false once the last was released (the array may already be someone else's).</summary>
    public bool TryRetain()
    {
        var count = Volatile.Read(ref _references);
        while (count > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, count + 1, count);
            if (seen == count)
            {
                return true;
            }

            count = seen;
        }

        return false;
    }

    public void Release()
    {
        var left = Interlocked.Decrement(ref _references);
        if (left == 0)
        {
            _pool?.Return(Array);
        }
        else if (left < 0)
        {
            throw new InvalidOperationException("a fragment buffer was released more often than it was retained");
        }
    }
}
