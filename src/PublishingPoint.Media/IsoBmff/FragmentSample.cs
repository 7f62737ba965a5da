namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// One sample of an ingested fragment: its timing from the 'trun' and where its bytes sit, as an offset from the
/// start of the fragment (the 'moof'), so the caller slices the buffer it already holds.
/// </summary>
public readonly record struct FragmentSample(long DecodeTime, uint Duration, int CompositionOffset, int Size, uint Flags, int DataOffset)
{
    public bool IsSync => SampleDefaults.IsSync(Flags);

    public long PresentationTime => DecodeTime + CompositionOffset;

    /// <summary>Bytes of memory a table of <paramref name="count"/> samples takes.</summary>
    public static long TableBytes(int count) => (long)count * System.Runtime.CompilerServices.Unsafe.SizeOf<FragmentSample>();
}
