using System.Buffers;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>What goes in the boxes of one single-track fragment besides its samples.</summary>
/// <param name="SequenceNumber">'mfhd' sequence_number, 1 for the first fragment of a track, then increasing.</param>
/// <param name="TrackId">'tfhd' track_ID.</param>
/// <param name="BaseMediaDecodeTime">'tfdt' decode time of the first sample, in the track timescale.</param>
/// <param name="WithStyp">Write a 'styp' first, as a DASH/CMAF media segment starts.</param>
/// <param name="CmafBrands">The 'styp' brands of a CMAF segment (msdh, cmfs, cmff, iso6) instead of DASH's (msdh, msix).</param>
public readonly record struct FragmentHeader(uint SequenceNumber, uint TrackId, long BaseMediaDecodeTime, bool WithStyp = false, bool CmafBrands = false);

/// <summary>
/// Writes [styp] moof(mfhd, traf(tfhd, tfdt, trun)) mdat for one track (ISO/IEC 14496-12 §8.8.4 to §8.8.8, §8.8.12,
/// §8.16.2). 'tfhd' sets default-base-is-moof; 'tfdt' is version 1; 'trun' is version 1 (signed composition
/// offsets) with data_offset and per-sample duration, size, flags, and composition offset (left out when all are 0).
/// </summary>
public static class FragmentWriter
{
    private const uint DefaultBaseIsMoof = 0x02_0000;
    private const uint TrunDataOffset = 0x001;
    private const uint TrunDuration = 0x100;
    private const uint TrunSize = 0x200;
    private const uint TrunFlags = 0x400;
    private const uint TrunCompositionOffset = 0x800;
    private const int MfhdSize = 8 + 8;
    private const int TfhdSize = 8 + 8;
    private const int TfdtSize = 8 + 12;

    private static readonly FourCC[] _dashBrands = [FourCC.From("msdh"), FourCC.From("msix")];
    private static readonly FourCC[] _cmafBrands = [FourCC.From("msdh"), FourCC.From("cmfs"), FourCC.From("cmff"), FourCC.From("iso6")];

    private static FourCC[] Brands(in FragmentHeader header) => header.CmafBrands ? _cmafBrands : _dashBrands;

    private static int StypLength(in FragmentHeader header) => 16 + (4 * Brands(header).Length);

    /// <summary>Total bytes of the fragment ([styp] moof mdat).</summary>
    public static int GetLength(in FragmentHeader header, ReadOnlySpan<OutputSample> samples)
    {
        var layout = Layout.Of(header, samples);
        return checked(layout.HeadersLength + (int)layout.DataLength);
    }

    /// <summary>Writes the fragment with the sample bytes in one span (their sizes must add up); returns bytes written.</summary>
    public static int Write(Span<byte> destination, in FragmentHeader header, ReadOnlySpan<OutputSample> samples, ReadOnlySpan<byte> sampleData)
    {
        var layout = Layout.Of(header, samples);
        if (sampleData.Length != layout.DataLength)
        {
            throw new ArgumentException($"Sample sizes add up to {layout.DataLength} but {sampleData.Length} bytes were given.", nameof(sampleData));
        }

        var at = WriteHeaders(destination, header, samples, layout);
        sampleData.CopyTo(destination[at..]);
        return at + sampleData.Length;
    }

    /// <summary>Writes the fragment with the sample bytes gathered from <paramref name="slices"/> in order.</summary>
    public static int Write(Span<byte> destination, in FragmentHeader header, ReadOnlySpan<OutputSample> samples, IReadOnlyList<ReadOnlyMemory<byte>> slices)
    {
        ArgumentNullException.ThrowIfNull(slices);
        var layout = Layout.Of(header, samples);
        long total = 0;
        for (var i = 0; i < slices.Count; i++)
        {
            total += slices[i].Length;
        }

        if (total != layout.DataLength)
        {
            throw new ArgumentException($"Sample sizes add up to {layout.DataLength} but the slices hold {total} bytes.", nameof(slices));
        }

        var at = WriteHeaders(destination, header, samples, layout);
        for (var i = 0; i < slices.Count; i++)
        {
            slices[i].Span.CopyTo(destination[at..]);
            at += slices[i].Length;
        }

        return at;
    }

    public static int Write(IBufferWriter<byte> writer, in FragmentHeader header, ReadOnlySpan<OutputSample> samples, ReadOnlySpan<byte> sampleData)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var length = GetLength(header, samples);
        var written = Write(writer.GetSpan(length)[..length], header, samples, sampleData);
        writer.Advance(written);
        return written;
    }

    /// <summary>
    /// Writes everything but the sample bytes ([styp] moof, mdat header) into <paramref name="destination"/>, which
    /// must hold <see cref="GetLength"/> bytes; returns where the sample bytes go, for a caller that gathers them itself.
    /// </summary>
    public static int WriteBoxes(Span<byte> destination, in FragmentHeader header, ReadOnlySpan<OutputSample> samples) =>
        WriteHeaders(destination, header, samples, Layout.Of(header, samples));

    private static int WriteHeaders(Span<byte> destination, in FragmentHeader header, ReadOnlySpan<OutputSample> samples, in Layout layout)
    {
        var w = new SpanWriter(destination[..layout.HeadersLength]);
        if (header.WithStyp)
        {
            // §8.16.2 SegmentTypeBox, same layout as 'ftyp'
            var brands = Brands(header);
            w.Box(BoxTypes.Styp, StypLength(header));
            w.FourCC(brands[0]);
            w.UInt32(0);
            foreach (var brand in brands)
            {
                w.FourCC(brand);
            }
        }

        w.Box(BoxTypes.Moof, layout.MoofLength);

        // §8.8.5 MovieFragmentHeaderBox: sequence_number
        w.FullBox(BoxTypes.Mfhd, MfhdSize, 0, 0);
        w.UInt32(header.SequenceNumber);

        w.Box(BoxTypes.Traf, 8 + TfhdSize + TfdtSize + layout.TrunLength);

        // §8.8.7 TrackFragmentHeaderBox: track_ID only; data offsets are relative to the 'moof'
        w.FullBox(BoxTypes.Tfhd, TfhdSize, 0, DefaultBaseIsMoof);
        w.UInt32(header.TrackId);

        // §8.8.12 TrackFragmentBaseMediaDecodeTimeBox v1: 64-bit baseMediaDecodeTime
        w.FullBox(BoxTypes.Tfdt, TfdtSize, 1, 0);
        w.UInt64((ulong)header.BaseMediaDecodeTime);

        // §8.8.8 TrackRunBox v1: sample_count, data_offset (moof start to first sample), then per sample
        var flags = TrunDataOffset | TrunDuration | TrunSize | TrunFlags | (layout.HasCompositionOffsets ? TrunCompositionOffset : 0);
        w.FullBox(BoxTypes.Trun, layout.TrunLength, 1, flags);
        w.UInt32((uint)samples.Length);
        w.Int32(layout.MoofLength + layout.MdatHeaderLength);
        foreach (var sample in samples)
        {
            w.UInt32(sample.Duration);
            w.UInt32((uint)sample.Size);
            w.UInt32(sample.Flags);
            if (layout.HasCompositionOffsets)
            {
                w.Int32(sample.CompositionOffset);
            }
        }

        // §8.1.1 MediaDataBox header; the sample bytes follow
        w.Box(BoxTypes.Mdat, layout.MdatHeaderLength + layout.DataLength);
        return w.Position;
    }

    private readonly record struct Layout(int StypLength, int MoofLength, int TrunLength, int MdatHeaderLength, long DataLength, bool HasCompositionOffsets)
    {
        public int HeadersLength => StypLength + MoofLength + MdatHeaderLength;

        public static Layout Of(in FragmentHeader header, ReadOnlySpan<OutputSample> samples)
        {
            long data = 0;
            var offsets = false;
            foreach (var sample in samples)
            {
                if (sample.Size < 0)
                {
                    throw new ArgumentException("A sample size is negative.", nameof(samples));
                }

                data += sample.Size;
                offsets |= sample.CompositionOffset != 0;
            }

            var trun = checked(8 + 4 + 4 + 4 + (samples.Length * (offsets ? 16 : 12)));
            var moof = 8 + MfhdSize + 8 + TfhdSize + TfdtSize + trun;
            var mdatHeader = data + 8 > uint.MaxValue ? 16 : 8;
            return new Layout(header.WithStyp ? FragmentWriter.StypLength(header) : 0, moof, trun, mdatHeader, data, offsets);
        }
    }
}
