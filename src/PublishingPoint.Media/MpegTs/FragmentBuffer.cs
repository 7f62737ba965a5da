using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// The samples of one track waiting to become a fragment: decode times and composition offsets in the track
/// timescale, keyframe flags, and the sample bytes packed in one reused buffer (no allocation per sample).
/// </summary>
internal sealed class FragmentBuffer
{
    private long[] _times = new long[256];
    private int[] _offsets = new int[256];
    private int[] _sizes = new int[256];
    private bool[] _sync = new bool[256];
    private OutputSample[] _samples = new OutputSample[256];
    private byte[] _data = new byte[64 * 1024]; // below the large object heap: a session that gets little costs little
    private int _dataLength;

    public FragmentBuffer(uint trackId, TrackKind kind)
    {
        TrackId = trackId;
        Kind = kind;
    }

    public uint TrackId { get; }

    public TrackKind Kind { get; }

    public int Count { get; private set; }

    /// <summary>Bytes of sample data held.</summary>
    public int DataLength => _dataLength;

    /// <summary>
    /// Bytes held: the sample data buffer and the per-sample tables, which grow to the largest fragment gathered and stay.
    /// </summary>
    public long Capacity => _data.Length + ((long)_times.Length * PerSampleBytes);

    private static readonly int PerSampleBytes = sizeof(long) + sizeof(int) + sizeof(int) + sizeof(bool) + System.Runtime.CompilerServices.Unsafe.SizeOf<OutputSample>();

    public uint SequenceNumber { get; private set; }

    /// <summary>Decode time of the last sample added, or null when none was added since <see cref="ResetTimeline"/>.</summary>
    public long? LastTime { get; private set; }

    /// <summary>Duration of the last sample of the last fragment written (to guess one at end of input).</summary>
    public long LastDuration { get; private set; }

    public long FirstTime => _times[0];

    public long TimeAt(int index) => _times[index];

    public void ResetTimeline() => LastTime = null;

    public void Add(long decodeTime, int compositionOffset, bool sync, ReadOnlySpan<byte> data)
    {
        if (Count == _times.Length)
        {
            var size = Count * 2;
            Array.Resize(ref _times, size);
            Array.Resize(ref _offsets, size);
            Array.Resize(ref _sizes, size);
            Array.Resize(ref _sync, size);
            Array.Resize(ref _samples, size);
        }

        if (_dataLength + data.Length > _data.Length)
        {
            Array.Resize(ref _data, Math.Max(_data.Length * 2, _dataLength + data.Length));
        }

        _times[Count] = decodeTime;
        _offsets[Count] = compositionOffset;
        _sizes[Count] = data.Length;
        _sync[Count] = sync;
        data.CopyTo(_data.AsSpan(_dataLength));
        _dataLength += data.Length;
        Count++;
        LastTime = decodeTime;
    }

    /// <summary>
    /// Writes the first <paramref name="count"/> samples as one fragment and removes them. Sample durations are the
    /// differences of decode times; the last one's is <paramref name="lastDuration"/>.
    /// </summary>
    public MediaFragment Take(int count, long lastDuration, bool withStyp)
    {
        long total = 0;
        var bytes = 0;
        for (var i = 0; i < count; i++)
        {
            var duration = i + 1 < count ? _times[i + 1] - _times[i] : lastDuration;
            duration = Math.Clamp(duration, 0, uint.MaxValue);
            _samples[i] = OutputSample.Create((uint)duration, _sizes[i], _sync[i], _offsets[i]);
            total += duration;
            bytes += _sizes[i];
        }

        var samples = _samples.AsSpan(0, count);
        SequenceNumber++;
        var header = new FragmentHeader(SequenceNumber, TrackId, _times[0], withStyp);
        var output = new byte[FragmentWriter.GetLength(header, samples)];
        FragmentWriter.Write(output, header, samples, _data.AsSpan(0, bytes));
        var fragment = new MediaFragment(TrackId, Kind, SequenceNumber, _times[0], total, count, _sync[0], output);
        LastDuration = samples[^1].Duration;

        // Keep the rest (audio ahead of a video boundary).
        var rest = Count - count;
        Array.Copy(_times, count, _times, 0, rest);
        Array.Copy(_offsets, count, _offsets, 0, rest);
        Array.Copy(_sizes, count, _sizes, 0, rest);
        Array.Copy(_sync, count, _sync, 0, rest);
        _data.AsSpan(bytes, _dataLength - bytes).CopyTo(_data);
        _dataLength -= bytes;
        Count = rest;
        return fragment;
    }
}
