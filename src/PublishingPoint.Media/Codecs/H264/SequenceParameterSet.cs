namespace PublishingPoint.Media.Codecs.H264;

/// <summary>The fields of a seq_parameter_set_rbsp (ISO/IEC 14496-10 7.3.2.1.1) a packager needs.</summary>
public sealed class SequenceParameterSet
{
    public int ProfileIdc { get; private init; }

    /// <summary>constraint_set0..5_flag and reserved_zero_2bits, as the byte after profile_idc.</summary>
    public int ConstraintFlags { get; private init; }

    public int LevelIdc { get; private init; }
    public int SeqParameterSetId { get; private init; }

    /// <summary>1 = 4:2:0 (the default when absent), 2 = 4:2:2, 3 = 4:4:4, 0 = monochrome.</summary>
    public int ChromaFormatIdc { get; private init; } = 1;

    public bool SeparateColourPlane { get; private init; }
    public int BitDepthLuma { get; private init; } = 8;
    public int BitDepthChroma { get; private init; } = 8;
    public bool FrameMbsOnly { get; private init; }

    /// <summary>Decoded size after frame cropping.</summary>
    public int Width { get; private init; }

    public int Height { get; private init; }

    /// <summary>Pixel aspect ratio from the VUI; 0/0 when not signalled.</summary>
    public int SarWidth { get; private init; }

    public int SarHeight { get; private init; }

    /// <summary>VUI timing: num_units_in_tick and time_scale; zero when not present.</summary>
    public uint NumUnitsInTick { get; private init; }

    public uint TimeScale { get; private init; }
    public bool FixedFrameRate { get; private init; }

    public bool HasTimingInfo => NumUnitsInTick != 0 && TimeScale != 0;

    /// <summary>Parses an SPS NAL unit, header byte included, in its escaped (on-the-wire) form.</summary>
    public static SequenceParameterSet Parse(ReadOnlySpan<byte> nalUnit)
    {
        if (nalUnit.Length < 4 || NalUnitType.Of(nalUnit[0]) != NalUnitType.Sps)
        {
            throw new InvalidDataException("Not an SPS NAL unit.");
        }

        var r = new BitReader(nalUnit[1..], skipEmulationPrevention: true);
        var profileIdc = (int)r.ReadBits(8);
        var constraintFlags = (int)r.ReadBits(8);
        var levelIdc = (int)r.ReadBits(8);
        var spsId = (int)r.ReadUe();

        var chroma = ReadChromaFormat(ref r, profileIdc);
        r.ReadUe(); // log2_max_frame_num_minus4
        SkipPicOrderCount(ref r);
        r.ReadUe(); // max_num_ref_frames
        r.Skip(1); // gaps_in_frame_num_value_allowed_flag
        var size = ReadFrameSize(ref r, chroma);
        var vui = default(VuiFields);
        if (r.ReadFlag())
        {
            vui = ReadVui(ref r);
        }

        return new SequenceParameterSet
        {
            ProfileIdc = profileIdc,
            ConstraintFlags = constraintFlags,
            LevelIdc = levelIdc,
            SeqParameterSetId = spsId,
            ChromaFormatIdc = chroma.Idc,
            SeparateColourPlane = chroma.SeparateColourPlane,
            BitDepthLuma = chroma.BitDepthLuma,
            BitDepthChroma = chroma.BitDepthChroma,
            FrameMbsOnly = size.FrameMbsOnly,
            Width = size.Width,
            Height = size.Height,
            SarWidth = vui.SarWidth,
            SarHeight = vui.SarHeight,
            NumUnitsInTick = vui.NumUnitsInTick,
            TimeScale = vui.TimeScale,
            FixedFrameRate = vui.FixedFrameRate,
        };
    }

    private readonly record struct ChromaFormat(int Idc, bool SeparateColourPlane, int BitDepthLuma, int BitDepthChroma);

    private readonly record struct FrameSize(int Width, int Height, bool FrameMbsOnly);

    // chroma_format_idc, bit depths and scaling lists: only in the profiles that carry them (4:2:0, 8 bits otherwise).
    private static ChromaFormat ReadChromaFormat(ref BitReader r, int profileIdc)
    {
        if (!HasChromaInfo(profileIdc))
        {
            return new ChromaFormat(1, false, 8, 8);
        }

        var chromaFormatIdc = (int)r.ReadUe();
        var separateColourPlane = chromaFormatIdc == 3 && r.ReadFlag();
        var bitDepthLuma = 8 + (int)r.ReadUe();
        var bitDepthChroma = 8 + (int)r.ReadUe();
        r.Skip(1); // qpprime_y_zero_transform_bypass_flag
        if (r.ReadFlag())
        {
            // seq_scaling_list_present_flag[i]: 6 4x4 lists, then 2 (or 6 for 4:4:4) 8x8 lists.
            var listCount = chromaFormatIdc != 3 ? 8 : 12;
            for (var i = 0; i < listCount; i++)
            {
                if (r.ReadFlag())
                {
                    SkipScalingList(ref r, i < 6 ? 16 : 64);
                }
            }
        }

        return new ChromaFormat(chromaFormatIdc, separateColourPlane, bitDepthLuma, bitDepthChroma);
    }

    private static void SkipPicOrderCount(ref BitReader r)
    {
        var picOrderCntType = r.ReadUe();
        if (picOrderCntType == 0)
        {
            r.ReadUe(); // log2_max_pic_order_cnt_lsb_minus4
        }
        else if (picOrderCntType == 1)
        {
            r.Skip(1); // delta_pic_order_always_zero_flag
            r.ReadSe(); // offset_for_non_ref_pic
            r.ReadSe(); // offset_for_top_to_bottom_field
            var cycle = r.ReadUe();
            for (var i = 0u; i < cycle; i++)
            {
                r.ReadSe();
            }
        }
    }

    // From pic_width_in_mbs_minus1 to the frame cropping: the decoded size.
    private static FrameSize ReadFrameSize(ref BitReader r, ChromaFormat chroma)
    {
        var widthInMbs = (int)r.ReadUe() + 1;
        var heightInMapUnits = (int)r.ReadUe() + 1;
        var frameMbsOnly = r.ReadFlag();
        if (!frameMbsOnly)
        {
            r.Skip(1); // mb_adaptive_frame_field_flag
        }

        r.Skip(1); // direct_8x8_inference_flag
        int cropLeft = 0, cropRight = 0, cropTop = 0, cropBottom = 0;
        if (r.ReadFlag())
        {
            cropLeft = (int)r.ReadUe();
            cropRight = (int)r.ReadUe();
            cropTop = (int)r.ReadUe();
            cropBottom = (int)r.ReadUe();
        }

        // 7.4.2.1.1: crop offsets count in chroma samples (CropUnitX/Y), doubled vertically for field coding.
        var fieldFactor = frameMbsOnly ? 1 : 2;
        var chromaArrayType = chroma.SeparateColourPlane ? 0 : chroma.Idc;
        var cropUnitX = chromaArrayType is 1 or 2 ? 2 : 1;
        var cropUnitY = (chromaArrayType == 1 ? 2 : 1) * fieldFactor;
        return new FrameSize(
            (widthInMbs * 16) - (cropUnitX * (cropLeft + cropRight)),
            (heightInMapUnits * 16 * fieldFactor) - (cropUnitY * (cropTop + cropBottom)),
            frameMbsOnly);
    }

    /// <summary>Profiles whose SPS carries chroma_format_idc, bit depths and scaling lists.</summary>
    private static bool HasChromaInfo(int profileIdc) =>
        profileIdc is 100 or 110 or 122 or 244 or 44 or 83 or 86 or 118 or 128 or 138 or 139 or 134 or 135;

    // 7.3.2.1.1.1 scaling_list(): delta-coded, a zero nextScale ends the explicit entries.
    private static void SkipScalingList(ref BitReader r, int size)
    {
        int lastScale = 8, nextScale = 8;
        for (var j = 0; j < size && nextScale != 0; j++)
        {
            nextScale = (lastScale + r.ReadSe() + 256) % 256;
            lastScale = nextScale == 0 ? lastScale : nextScale;
        }
    }

    // E.1.1 vui_parameters(), read up to timing_info; HRD and later fields are not needed.
    private static VuiFields ReadVui(ref BitReader r)
    {
        var vui = default(VuiFields);
        if (r.ReadFlag())
        {
            var aspectRatioIdc = (int)r.ReadBits(8);
            if (aspectRatioIdc == ExtendedSar)
            {
                vui.SarWidth = (int)r.ReadBits(16);
                vui.SarHeight = (int)r.ReadBits(16);
            }
            else if (aspectRatioIdc > 0 && aspectRatioIdc < SarTable.Length / 2)
            {
                vui.SarWidth = SarTable[aspectRatioIdc * 2];
                vui.SarHeight = SarTable[(aspectRatioIdc * 2) + 1];
            }
        }

        if (r.ReadFlag())
        {
            r.Skip(1); // overscan_appropriate_flag
        }

        if (r.ReadFlag())
        {
            r.Skip(4); // video_format, video_full_range_flag
            if (r.ReadFlag())
            {
                r.Skip(24); // colour_primaries, transfer_characteristics, matrix_coefficients
            }
        }

        if (r.ReadFlag())
        {
            r.ReadUe(); // chroma_sample_loc_type_top_field
            r.ReadUe(); // chroma_sample_loc_type_bottom_field
        }

        if (r.ReadFlag())
        {
            vui.NumUnitsInTick = r.ReadBits(32);
            vui.TimeScale = r.ReadBits(32);
            vui.FixedFrameRate = r.ReadFlag();
        }

        return vui;
    }

    private const int ExtendedSar = 255;

    // Table E-1, aspect_ratio_idc 0..16 as width, height pairs.
    private static ReadOnlySpan<byte> SarTable =>
    [
        0, 0, 1, 1, 12, 11, 10, 11, 16, 11, 40, 33, 24, 11, 20, 11, 32, 11,
        80, 33, 18, 11, 15, 11, 64, 33, 160, 99, 4, 3, 3, 2, 2, 1,
    ];

    private struct VuiFields
    {
        public int SarWidth;
        public int SarHeight;
        public uint NumUnitsInTick;
        public uint TimeScale;
        public bool FixedFrameRate;
    }
}
