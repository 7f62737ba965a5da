using System.Buffers.Binary;

namespace PublishingPoint.Media.Scte35;

/// <summary>What a SCTE-35 splice_info_section commands (ANSI/SCTE 35 9.3, 9.7).</summary>
public enum SpliceKind
{
    /// <summary>Any other command (time_signal, splice_null, bandwidth_reservation, private): a cue to pass on.</summary>
    Command,

    /// <summary>splice_insert with out_of_network_indicator = 1: the start of a break.</summary>
    Out,

    /// <summary>splice_insert with out_of_network_indicator = 0: the return from a break.</summary>
    In,
}

/// <summary>
/// The few fields of a SCTE-35 splice_info_section an origin needs to signal a cue in a playlist: the command, and for
/// splice_insert its event id, direction and break duration. The section itself is passed on untouched.
/// </summary>
public readonly record struct SpliceInfo(SpliceKind Kind, uint? EventId, long? BreakDuration90k)
{
    private const byte TableId = 0xFC;
    private const byte SpliceInsert = 0x05;
    private const byte TimeSignal = 0x06;

    /// <summary>Reads the section; false when it is not a splice_info_section.</summary>
    public static bool TryRead(ReadOnlySpan<byte> section, out SpliceInfo info)
    {
        info = new SpliceInfo(SpliceKind.Command, null, null);
        // table_id, section_syntax_indicator.. section_length(12), protocol_version, encrypted/pts_adjustment(33+7),
        // cw_index, tier(12)+splice_command_length(12), splice_command_type: 14 bytes before the command.
        if (section.Length < 14 || section[0] != TableId)
        {
            return false;
        }

        var encrypted = (section[4] & 0x80) != 0;
        if (encrypted || section[13] != SpliceInsert)
        {
            return true;
        }

        var command = section[14..];
        if (command.Length < 5)
        {
            return true;
        }

        var eventId = BinaryPrimitives.ReadUInt32BigEndian(command);
        var cancel = (command[4] & 0x80) != 0;
        if (cancel || command.Length < 6)
        {
            info = new SpliceInfo(SpliceKind.Command, eventId, null);
            return true;
        }

        var flags = command[5];
        var outOfNetwork = (flags & 0x80) != 0;
        var programSplice = (flags & 0x40) != 0;
        var durationFlag = (flags & 0x20) != 0;
        var immediate = (flags & 0x10) != 0;
        var at = 6;
        if (programSplice && !immediate)
        {
            at += (command.Length > at && (command[at] & 0x80) != 0) ? 5 : 1; // splice_time(): time_specified_flag, 33-bit pts
        }
        else if (!programSplice)
        {
            return Set(out info, outOfNetwork, eventId, null); // component splices: direction is enough
        }

        long? duration = null;
        if (durationFlag && command.Length >= at + 5)
        {
            // break_duration(): auto_return(1) reserved(6) duration(33)
            duration = ((long)(command[at] & 0x01) << 32) | BinaryPrimitives.ReadUInt32BigEndian(command[(at + 1)..]);
        }

        return Set(out info, outOfNetwork, eventId, duration);
    }

    /// <summary>
    /// The splice time of a splice_insert (program splice, not immediate) or time_signal, pts_adjustment added, as a
    /// 33-bit value of the 90 kHz clock; false when the command names no time.
    /// </summary>
    public static bool TrySpliceTime(ReadOnlySpan<byte> section, out long time90k)
    {
        time90k = 0;
        if (section.Length < 14 || section[0] != TableId || (section[4] & 0x80) != 0)
        {
            return false;
        }

        var adjustment = ((long)(section[4] & 0x01) << 32) | BinaryPrimitives.ReadUInt32BigEndian(section[5..]);
        var command = section[14..];
        ReadOnlySpan<byte> spliceTime;
        if (section[13] == TimeSignal)
        {
            spliceTime = command;
        }
        else if (section[13] == SpliceInsert && command.Length >= 6 && (command[4] & 0x80) == 0 && (command[5] & 0x50) == 0x40)
        {
            spliceTime = command[6..]; // program splice, not immediate: splice_time() follows the flags
        }
        else
        {
            return false;
        }

        if (spliceTime.Length < 5 || (spliceTime[0] & 0x80) == 0)
        {
            return false; // time_specified_flag 0
        }

        var pts = ((long)(spliceTime[0] & 0x01) << 32) | BinaryPrimitives.ReadUInt32BigEndian(spliceTime[1..]);
        time90k = (pts + adjustment) & 0x1_FFFF_FFFF;
        return true;
    }

    private static bool Set(out SpliceInfo info, bool outOfNetwork, uint eventId, long? duration)
    {
        info = new SpliceInfo(outOfNetwork ? SpliceKind.Out : SpliceKind.In, eventId, duration);
        return true;
    }
}
