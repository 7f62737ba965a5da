namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// §8.8.8 TrackRunBox ('trun'). Read sample by sample, without allocating, with <see cref="TrackRunReader"/>;
/// written here as version 1 (signed composition offsets) with data_offset and each sample's duration, size and
/// flags, and its composition offset when any is not 0.
/// </summary>
public static class TrunBox
{
    public const uint DataOffsetPresent = 0x001;
    public const uint FirstSampleFlagsPresent = 0x004;
    public const uint DurationPresent = 0x100;
    public const uint SizePresent = 0x200;
    public const uint FlagsPresent = 0x400;
    public const uint CompositionOffsetPresent = 0x800;

    public static int Size(int samples, bool compositionOffsets) => checked(8 + 4 + 4 + 4 + (samples * (compositionOffsets ? 16 : 12)));

    /// <summary>The box header and fields up to the first sample entry; then <see cref="WriteEntry"/> once per sample.</summary>
    internal static void WriteHead(ref SpanWriter w, int samples, int dataOffset, bool compositionOffsets)
    {
        var flags = DataOffsetPresent | DurationPresent | SizePresent | FlagsPresent | (compositionOffsets ? CompositionOffsetPresent : 0);
        w.FullBox(BoxTypes.Trun, Size(samples, compositionOffsets), 1, flags);
        w.UInt32((uint)samples);
        w.Int32(dataOffset);
    }

    internal static void WriteEntry(ref SpanWriter w, uint duration, uint size, uint flags, int compositionOffset, bool compositionOffsets)
    {
        w.UInt32(duration);
        w.UInt32(size);
        w.UInt32(flags);
        if (compositionOffsets)
        {
            w.Int32(compositionOffset);
        }
    }

    /// <summary>The whole box for <paramref name="samples"/>; returns the bytes written.</summary>
    public static int Write(Span<byte> destination, int dataOffset, ReadOnlySpan<OutputSample> samples)
    {
        var offsets = false;
        foreach (var sample in samples)
        {
            offsets |= sample.CompositionOffset != 0;
        }

        var w = new SpanWriter(destination);
        WriteHead(ref w, samples.Length, dataOffset, offsets);
        foreach (var sample in samples)
        {
            WriteEntry(ref w, sample.Duration, (uint)sample.Size, sample.Flags, sample.CompositionOffset, offsets);
        }

        return w.Position;
    }
}
