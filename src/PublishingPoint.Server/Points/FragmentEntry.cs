using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Archive;

namespace PublishingPoint.Server.Points;

/// <summary>One part of an indexed fragment: its number of samples, its duration (track timescale), whether it starts with a sync sample.</summary>
public readonly record struct PartLayout(int Samples, long Duration, bool Independent);

/// <summary>
/// One indexed fragment (moof+mdat as the encoder sent it), its sample table parsed once at ingest (decode times on
/// the track's timeline, data offsets into the fragment), and where its bytes are.
/// </summary>
public sealed class FragmentEntry
{
    private byte[]? _data;

    public FragmentEntry(long time, long duration, TrackFragment traf, FragmentSample[] samples, StreamArchive archive, long archiveOffset, int length, byte[]? data)
    {
        Time = time;
        Duration = duration;
        Traf = traf;
        Samples = samples;
        Archive = archive;
        ArchiveOffset = archiveOffset;
        Length = length;
        _data = data;
    }

    public long Time { get; }

    public long Duration { get; }

    public long End => Time + Duration;

    /// <summary>Layout of the single 'traf', for rewriting the fragment for players.</summary>
    public TrackFragment Traf { get; }

    /// <summary>Every sample, in decode order: every output is written from these, never from a parse of its own.</summary>
    public FragmentSample[] Samples { get; }

    public StreamArchive Archive { get; }

    public long ArchiveOffset { get; }

    public int Length { get; }

    /// <summary>True when the encoder restarted or skipped time right before this fragment.</summary>
    public bool Discontinuity { get; init; }

    /// <summary>The segment number, from media time (<see cref="SegmentNumbering"/>); set when the track indexes it.</summary>
    public long Sequence { get; internal set; }

    /// <summary>
    /// When the fragment was gathered from low-latency chunks: each chunk (LL-HLS part) in order. The parts are served
    /// again from the fragment's samples, byte for byte as they were while the segment was open.
    /// </summary>
    public IReadOnlyList<PartLayout>? Parts { get; init; }

    /// <summary>Where the keyframe ends in this fragment's TS segment (an I-frame playlist's byte range), once computed.</summary>
    public int? TsKeyframeEnd
    {
        get => Volatile.Read(ref _tsKeyframeEnd) is var end and > 0 ? end : null;
        set => Volatile.Write(ref _tsKeyframeEnd, value ?? 0);
    }

    private int _tsKeyframeEnd;

    /// <summary>The bytes while the fragment is inside the memory window; null once evicted (read from the archive).</summary>
    public byte[]? Data => Volatile.Read(ref _data);

    internal void Evict() => Volatile.Write(ref _data, null);

    public async ValueTask<byte[]> ReadAsync(CancellationToken cancellationToken)
    {
        if (Data is { } data)
        {
            return data;
        }

        var buffer = new byte[Length];
        await Archive.ReadAsync(ArchiveOffset, buffer, cancellationToken).ConfigureAwait(false);
        return buffer;
    }
}
