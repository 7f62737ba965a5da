using System.Buffers;
using System.Buffers.Binary;

namespace PublishingPoint.Media.Codecs.H264;

/// <summary>
/// Conversion between AVCC samples (each NAL unit prefixed by a big-endian length, ISO/IEC 14496-15 5.3.2)
/// and Annex B byte streams (each NAL unit preceded by a 00 00 00 01 start code, ISO/IEC 14496-10 B.1).
/// </summary>
public static class AnnexB
{
    public const int StartCodeLength = 4;

    // 00 00 00 01, then AUD header (nal_ref_idc 0, type 9) and primary_pic_type 7 ("any") + stop bit.
    private static ReadOnlySpan<byte> AudNalUnit => [0x09, 0xF0];

    /// <summary>Exact size <see cref="Write(ReadOnlySpan{byte}, int, in AnnexBOptions, Span{byte})"/> produces.</summary>
    public static int GetLength(ReadOnlySpan<byte> accessUnit, int nalLengthSize, in AnnexBOptions options)
    {
        var scan = Scan(accessUnit, nalLengthSize);
        var length = scan.PayloadLength + (scan.NalCount * StartCodeLength);
        if (NeedsAud(scan, options))
        {
            length += StartCodeLength + AudNalUnit.Length;
        }

        if (NeedsParameterSets(scan, options))
        {
            length += ParameterSetsLength(options.ParameterSets!);
        }

        return length;
    }

    /// <summary>Converts one AVCC access unit; returns the bytes written.</summary>
    public static int Write(ReadOnlySpan<byte> accessUnit, int nalLengthSize, in AnnexBOptions options, Span<byte> destination)
    {
        var scan = Scan(accessUnit, nalLengthSize);
        var offset = 0;
        var rest = accessUnit;
        if (NeedsAud(scan, options))
        {
            offset = WriteNal(destination, offset, AudNalUnit);
        }
        else if (scan.StartsWithAud)
        {
            offset = WriteNal(destination, offset, NextNal(ref rest, nalLengthSize));
        }

        if (NeedsParameterSets(scan, options))
        {
            var config = options.ParameterSets!;
            foreach (var sps in config.SequenceParameterSets)
            {
                offset = WriteNal(destination, offset, sps.Span);
            }

            foreach (var pps in config.PictureParameterSets)
            {
                offset = WriteNal(destination, offset, pps.Span);
            }
        }

        while (!rest.IsEmpty)
        {
            offset = WriteNal(destination, offset, NextNal(ref rest, nalLengthSize));
        }

        return offset;
    }

    public static int Write(ReadOnlySpan<byte> accessUnit, int nalLengthSize, in AnnexBOptions options, IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var length = GetLength(accessUnit, nalLengthSize, options);
        var written = Write(accessUnit, nalLengthSize, options, writer.GetSpan(length));
        writer.Advance(written);
        return written;
    }

    /// <summary>
    /// Reads the next NAL unit of an Annex B stream: skips to the byte after a 00 00 01 start code and
    /// returns everything up to the next start code, trailing zero bytes dropped.
    /// </summary>
    public static bool TryReadNalUnit(ref ReadOnlySpan<byte> stream, out ReadOnlySpan<byte> nalUnit)
    {
        // A loop, not a call per empty unit: a PES of nothing but start codes would otherwise overflow the stack.
        while (true)
        {
            var start = IndexOfStartCode(stream);
            if (start < 0)
            {
                stream = default;
                nalUnit = default;
                return false;
            }

            var body = stream[(start + 3)..];
            var next = IndexOfStartCode(body);
            var nal = next < 0 ? body : body[..next];
            stream = next < 0 ? default : body[next..];
            nalUnit = nal.TrimEnd((byte)0);
            if (!nalUnit.IsEmpty)
            {
                return true;
            }
        }
    }

    private static int IndexOfStartCode(ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<byte> startCode = [0, 0, 1];
        return data.IndexOf(startCode);
    }

    internal static int ParameterSetsLength(AvcDecoderConfiguration config)
    {
        var length = 0;
        foreach (var sps in config.SequenceParameterSets)
        {
            length += StartCodeLength + sps.Length;
        }

        foreach (var pps in config.PictureParameterSets)
        {
            length += StartCodeLength + pps.Length;
        }

        return length;
    }

    private static bool NeedsAud(in AccessUnitScan scan, in AnnexBOptions options) =>
        options.InsertAud && !scan.StartsWithAud;

    private static bool NeedsParameterSets(in AccessUnitScan scan, in AnnexBOptions options) =>
        options.ParameterSets is not null && (scan.HasIdr || options.IsKeyframe) && !(scan.HasSps && scan.HasPps);

    private static int WriteNal(Span<byte> destination, int offset, ReadOnlySpan<byte> nal)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination[offset..], 1);
        nal.CopyTo(destination[(offset + StartCodeLength)..]);
        return offset + StartCodeLength + nal.Length;
    }

    private static ReadOnlySpan<byte> NextNal(ref ReadOnlySpan<byte> rest, int nalLengthSize)
    {
        var length = ReadLength(rest, nalLengthSize);
        var nal = rest.Slice(nalLengthSize, length);
        rest = rest[(nalLengthSize + length)..];
        return nal;
    }

    private static int ReadLength(ReadOnlySpan<byte> data, int nalLengthSize)
    {
        if (data.Length < nalLengthSize)
        {
            throw new InvalidDataException("Truncated NAL unit length prefix.");
        }

        var length = nalLengthSize switch
        {
            1 => data[0],
            2 => BinaryPrimitives.ReadUInt16BigEndian(data),
            4 => BinaryPrimitives.ReadUInt32BigEndian(data),
            _ => throw new ArgumentOutOfRangeException(nameof(nalLengthSize)),
        };
        if (length == 0 || length > (uint)(data.Length - nalLengthSize))
        {
            throw new InvalidDataException($"NAL unit length {length} does not fit the access unit.");
        }

        return (int)length;
    }

    private static AccessUnitScan Scan(ReadOnlySpan<byte> accessUnit, int nalLengthSize)
    {
        var scan = default(AccessUnitScan);
        var rest = accessUnit;
        while (!rest.IsEmpty)
        {
            var nal = NextNal(ref rest, nalLengthSize);
            var type = NalUnitType.Of(nal[0]);
            scan.StartsWithAud |= scan.NalCount == 0 && type == NalUnitType.AccessUnitDelimiter;
            scan.HasIdr |= type == NalUnitType.IdrSlice;
            scan.HasSps |= type == NalUnitType.Sps;
            scan.HasPps |= type == NalUnitType.Pps;
            scan.NalCount++;
            scan.PayloadLength += nal.Length;
        }

        return scan;
    }

    private struct AccessUnitScan
    {
        public int NalCount;
        public int PayloadLength;
        public bool StartsWithAud;
        public bool HasIdr;
        public bool HasSps;
        public bool HasPps;
    }
}
