namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// One access unit for the muxer, timestamps on the 90 kHz clock (see <see cref="Timing.Timescale.To90k"/>).
/// Video data is AVCC (NAL units with length prefixes of the configuration's size); audio data is one raw AAC frame.
/// </summary>
public readonly record struct TsSample(long Dts90k, long Pts90k, bool IsKeyframe, ReadOnlyMemory<byte> Data);
