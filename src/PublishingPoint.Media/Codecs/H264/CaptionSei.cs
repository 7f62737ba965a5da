using System.Buffers.Binary;

namespace PublishingPoint.Media.Codecs.H264;

/// <summary>Which caption data a sample carries: CEA-608 (per field) and CEA-708 (DTVCC) packets.</summary>
[Flags]
public enum CaptionKinds
{
    None = 0,
    Cea608Field1 = 1,
    Cea608Field2 = 2,
    Cea708 = 4,
}

/// <summary>
/// Finds closed captions in an H.264 sample: SEI user_data_registered_itu_t_t35 (payload type 4) with the ATSC
/// A/53 identifier 'GA94' and cc_data (user_data_type_code 3), as CEA-708 carries both 608 and 708 data
/// (ANSI/SCTE 128-1, ATSC A/72 6.4). Reads NAL lengths and the first bytes of each SEI only; no allocation.
/// </summary>
public static class CaptionSei
{
    private const int SeiNalType = 6;
    private const int UserDataRegistered = 4;
    private const uint Ga94 = 0x47413934;

    public static CaptionKinds Find(ReadOnlySpan<byte> sample, int nalLengthSize)
    {
        var kinds = CaptionKinds.None;
        Span<byte> rbsp = stackalloc byte[256];
        while (sample.Length > nalLengthSize)
        {
            var length = nalLengthSize switch
            {
                4 => (long)BinaryPrimitives.ReadUInt32BigEndian(sample),
                2 => BinaryPrimitives.ReadUInt16BigEndian(sample),
                _ => sample[0],
            };
            if (length <= 0 || length > sample.Length - nalLengthSize)
            {
                break;
            }

            var nal = sample.Slice(nalLengthSize, (int)length);
            if ((nal[0] & 0x1F) == SeiNalType)
            {
                kinds |= FromSei(rbsp[..Unescape(nal[1..], rbsp)]);
            }

            sample = sample[(nalLengthSize + (int)length)..];
        }

        return kinds;
    }

    /// <summary>The CLOSED-CAPTIONS INSTREAM-ID a master playlist names for <paramref name="kinds"/>; null for none.</summary>
    public static string? InstreamId(CaptionKinds kinds) =>
        (kinds & CaptionKinds.Cea608Field1) != 0 ? "CC1"
        : (kinds & CaptionKinds.Cea608Field2) != 0 ? "CC3"
        : (kinds & CaptionKinds.Cea708) != 0 ? "SERVICE1"
        : null;

    private static CaptionKinds FromSei(ReadOnlySpan<byte> rbsp)
    {
        var kinds = CaptionKinds.None;
        while (rbsp.Length > 2 && rbsp[0] != 0x80)
        {
            var type = ReadFfCoded(ref rbsp);
            var size = ReadFfCoded(ref rbsp);
            if (size < 0 || size > rbsp.Length)
            {
                break; // truncated (only the first bytes of a long SEI were unescaped): what was read stands
            }

            if (type == UserDataRegistered)
            {
                kinds |= FromUserData(rbsp[..size]);
            }

            rbsp = rbsp[size..];
        }

        return kinds;
    }

    // ITU-T T.35: country 0xB5 (USA), provider 0x0031 (ATSC), 'GA94', user_data_type_code 3 = cc_data().
    private static CaptionKinds FromUserData(ReadOnlySpan<byte> data)
    {
        if (data.Length < 10 || data[0] != 0xB5 || BinaryPrimitives.ReadUInt16BigEndian(data[1..]) != 0x0031
            || BinaryPrimitives.ReadUInt32BigEndian(data[3..]) != Ga94 || data[7] != 3 || (data[8] & 0x40) == 0)
        {
            return CaptionKinds.None;
        }

        var count = data[8] & 0x1F;
        var kinds = CaptionKinds.None;
        var triplets = data[10..];
        for (var i = 0; i < count && triplets.Length >= 3; i++, triplets = triplets[3..])
        {
            if ((triplets[0] & 0x04) == 0)
            {
                continue; // cc_valid = 0: padding
            }

            kinds |= (triplets[0] & 0x03) switch
            {
                0 => CaptionKinds.Cea608Field1,
                1 => CaptionKinds.Cea608Field2,
                _ => CaptionKinds.Cea708,
            };
        }

        return kinds;
    }

    private static int ReadFfCoded(ref ReadOnlySpan<byte> rbsp)
    {
        var value = 0;
        while (!rbsp.IsEmpty)
        {
            var b = rbsp[0];
            rbsp = rbsp[1..];
            value += b;
            if (b != 0xFF)
            {
                return value;
            }
        }

        return -1;
    }

    // Removes emulation prevention bytes (00 00 03) from the start of a NAL payload, up to the buffer's length.
    private static int Unescape(ReadOnlySpan<byte> payload, Span<byte> rbsp)
    {
        var written = 0;
        var zeros = 0;
        foreach (var b in payload)
        {
            if (written == rbsp.Length)
            {
                break;
            }

            if (zeros >= 2 && b == 3)
            {
                zeros = 0;
                continue;
            }

            zeros = b == 0 ? zeros + 1 : 0;
            rbsp[written++] = b;
        }

        return written;
    }
}
