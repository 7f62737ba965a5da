using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Media.MpegTs;

/// <summary>One single-track fragment: [styp] moof(mfhd, traf) mdat.</summary>
/// <param name="DecodeTime">'tfdt' of the first sample, in the track timescale.</param>
/// <param name="Duration">Sum of the sample durations, in the track timescale.</param>
public readonly record struct MediaFragment(
    uint TrackId,
    TrackKind Kind,
    uint SequenceNumber,
    long DecodeTime,
    long Duration,
    int SampleCount,
    bool StartsWithKeyframe,
    ReadOnlyMemory<byte> Data);

/// <summary>Receives what <see cref="TsFragmenter"/> produces, per track.</summary>
public interface IFragmentSink
{
    /// <summary>An initialization segment (ftyp + moov) for one track: before its first fragment, and again after a codec change.</summary>
    void OnInitSegment(MovieTrack track, ReadOnlyMemory<byte> initSegment);

    void OnFragment(in MediaFragment fragment);

    /// <summary>A SCTE-35 splice_info_section of the program, at <paramref name="time90k"/> on the fragments' 90 kHz timeline.</summary>
    void OnSpliceInfo(ReadOnlySpan<byte> section, long time90k)
    {
    }
}
