using System.Collections.Concurrent;
using System.Numerics;

namespace PublishingPoint.Server.Points;

/// <summary>
/// Arrays for the fragments ingest receives, reused instead of left to the garbage collector: at 200 channels
/// the fragments are 100 MB/s of large objects, and every collection they trigger is a full one. Sizes come in eight
/// classes an octave (an array is at most an eighth longer than its fragment); idle arrays are kept up to a quarter of
/// what is lent (at least 4 MB, at most 256 MB), the most recently returned first, as those pages are still warm.
/// </summary>
public sealed class FragmentBufferPool
{
    /// <summary>Smaller fragments get arrays of their own: below the large object heap they are cheap to collect.</summary>
    public const int MinimumPooledLength = (64 * 1024) + 1;

    public const int MaximumPooledLength = 32 * 1024 * 1024;

    private const int MinimumOctave = 16;
    private const int ClassesPerOctave = 8;
    private const long MinimumIdleBytes = 4L * 1024 * 1024;
    private const long MaximumIdleBytes = 256L * 1024 * 1024;

    // A fragment may take an array up to two classes larger than its own (a quarter longer at most).
    private const int ClassesSearched = 3;

    private readonly ConcurrentStack<byte[]>[] _idle;
    private long _idleBytes;
    private long _lentBytes;

    public FragmentBufferPool()
    {
        _idle = new ConcurrentStack<byte[]>[ClassOf(MaximumPooledLength) + 1];
        for (var i = 0; i < _idle.Length; i++)
        {
            _idle[i] = new ConcurrentStack<byte[]>();
        }
    }

    public static FragmentBufferPool Shared { get; } = new();

    /// <summary>Bytes of pooled arrays held by fragments now.</summary>
    public long LentBytes => Interlocked.Read(ref _lentBytes);

    /// <summary>Bytes of arrays waiting to be lent again.</summary>
    public long IdleBytes => Interlocked.Read(ref _idleBytes);

    /// <summary>A buffer of <paramref name="length"/> bytes with one reference, the caller's; its contents are undefined.</summary>
    public FragmentBuffer Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length < MinimumPooledLength || length > MaximumPooledLength)
        {
            return new FragmentBuffer(GC.AllocateUninitializedArray<byte>(length), length, null);
        }

        var wanted = ClassOf(length);
        for (var c = wanted; c < Math.Min(wanted + ClassesSearched, _idle.Length); c++)
        {
            if (_idle[c].TryPop(out var array))
            {
                Interlocked.Add(ref _idleBytes, -array.Length);
                Interlocked.Add(ref _lentBytes, array.Length);
                return new FragmentBuffer(array, length, this);
            }
        }

        var fresh = GC.AllocateUninitializedArray<byte>(LengthOf(wanted));
        Interlocked.Add(ref _lentBytes, fresh.Length);
        return new FragmentBuffer(fresh, length, this);
    }

    internal void Return(byte[] array)
    {
        var lent = Interlocked.Add(ref _lentBytes, -array.Length);
        var limit = Math.Clamp(lent / 4, MinimumIdleBytes, MaximumIdleBytes);
        if (Interlocked.Add(ref _idleBytes, array.Length) <= limit)
        {
            _idle[ClassOf(array.Length)].Push(array);
            return;
        }

        Interlocked.Add(ref _idleBytes, -array.Length);
        Trim(limit);
    }

    // Over the limit (the load fell): the largest idle arrays go first.
    private void Trim(long limit)
    {
        for (var c = _idle.Length - 1; c >= 0 && Interlocked.Read(ref _idleBytes) > limit; c--)
        {
            while (Interlocked.Read(ref _idleBytes) > limit && _idle[c].TryPop(out var array))
            {
                Interlocked.Add(ref _idleBytes, -array.Length);
            }
        }
    }

    /// <summary>The smallest class whose arrays hold <paramref name="length"/> bytes (<see cref="MinimumPooledLength"/> and up).</summary>
    internal static int ClassOf(int length)
    {
        var octave = BitOperations.Log2((uint)length);
        var step = 1 << (octave - 3);
        var steps = (length - (1 << octave) + step - 1) / step;
        return ((octave - MinimumOctave) * ClassesPerOctave) + steps;
    }

    internal static int LengthOf(int sizeClass)
    {
        var octave = MinimumOctave + (sizeClass / ClassesPerOctave);
        return (1 << octave) + ((sizeClass % ClassesPerOctave) << (octave - 3));
    }
}
