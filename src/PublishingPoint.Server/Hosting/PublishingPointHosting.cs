using Microsoft.Extensions.Options;
using PublishingPoint.Server.Admin;
using PublishingPoint.Server.Configuration;
using PublishingPoint.Server.Delivery.Dash;
using PublishingPoint.Server.Delivery.Hls;
using PublishingPoint.Server.Delivery.Smooth;
using PublishingPoint.Server.Ingest;
using PublishingPoint.Server.Ingest.Segments;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Publishing;
using Scalar.AspNetCore;
using Serilog;

namespace PublishingPoint.Server.Hosting;

public static class PublishingPointHosting
{
    private const string HostingDiagnostics = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>Builds the server: the top-level appsettings.json, Serilog, and every publishing-point service.</summary>
    /// <param name="services">Replaces services after the defaults are registered (tests: a fake clock).</param>
    public static WebApplication Create(string[] args, Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = ContentRoot(args) });
        // Start-up's own logger, for what must be said before the host exists (a refusal to start).
        var logger = new LoggerConfiguration().ReadFrom.Configuration(builder.Configuration).CreateLogger();
        RefuseUnsafe(logger, ExposureCheck.Refusals(builder.Configuration));
        if (ExposureCheck.HostWarning(builder.Configuration) is { } warning)
        {
            logger.ForContext("SourceContext", typeof(ExposureCheck).FullName).Warning("{Warning}", warning);
        }

        // Serilog.AspNetCore: the "Serilog" section decides sinks and levels; other ILoggerProviders (tests) still get events.
        builder.Logging.ClearProviders();
        // The server's own logger, not the process-wide static one: several servers may share a process (tests).
        // The host's per-request diagnostics category is off (the configuration may turn it back on): while any level of it
        // is enabled, every request gets an Activity, a log scope and their async-local copies, a quarter of what a
        // playlist's answer allocates, for lines (request starting/finished) nobody reads; the request log is ours.
        builder.Services.AddSerilog((_, configuration) => configuration.MinimumLevel.Override(HostingDiagnostics, Serilog.Events.LevelAlias.Off)
            .Filter.ByExcluding(Observability.RejectedConnectionsLog.IsKestrelsLine)
            .ReadFrom.Configuration(builder.Configuration), preserveStaticLogger: true, writeToProviders: true);
        builder.Services.AddPublishingPoints(builder.Configuration);
        services?.Invoke(builder.Services);
        // Kestrel's endpoints as configured at start, where the exposure check read them: by default it binds again when
        // the file changes, and an endpoint added to a running key-less server would listen beyond loopback.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Configure(builder.Configuration.GetSection("Kestrel"), reloadOnChange: false));
        var eventLoop = ConfigureTransport(builder, logger);
        var app = builder.Build();
        var trustedProxies = builder.Configuration.GetSection($"{PublishingPointOptions.Section}:{nameof(PublishingPointOptions.TrustedProxies)}").Get<string[]>() ?? [];
        if (trustedProxies.Length > 0)
        {
            // Not without a list: the middleware with no known proxies believes every sender.
            app.Use((context, next) =>
            {
                Configuration.ClientNetwork.NotePeer(context);
                return next(context);
            });
            app.UseForwardedHeaders(ForwardedHeaders(trustedProxies));
        }

        app.UseMiddleware<Observability.RequestObservation>();
        Admin.DashboardFiles.Use(app, Admin.DashboardFiles.DefaultRoot);
        app.UseMiddleware<PlaybackFastLane>();
        if (eventLoop)
        {
            // After the players' fast lane, which answers most of them without this check.
            app.UseMiddleware<EventLoopExit>();
        }

        app.UseRouting();
        // CORS answers only requests from a browser page (an Origin header) and preflights; the rest (a CDN, a native
        // player) skip the middleware, which for each would make a DI scope, a policy provider and an items dictionary
        // only to find no Origin. DeliveryCors still marks those answers as readable from any page.
        app.UseWhen(static context => context.Request.Headers.ContainsKey(Microsoft.Net.Http.Headers.HeaderNames.Origin) || HttpMethods.IsOptions(context.Request.Method),
            static branch => branch.UseCors());
        app.Use(Admin.AdminAuthorization.GateAsync);
        app.UseMiddleware<Delivery.DeliveryCors>();
        try
        {
            app.MapPublishingPoints();
        }
        catch (OptionsValidationException e)
        {
            RefuseUnsafe(logger, [.. e.Failures]);
        }

        logger.Dispose();
        return app;
    }

    /// <summary>Kestrel's sockets, receive blocks and connection middleware (DirectSend, the event loop); true when players are served on the event loop.</summary>
    private static bool ConfigureTransport(WebApplicationBuilder builder, Serilog.ILogger logger)
    {
        var directSend = builder.Configuration.GetValue($"{PublishingPointOptions.Section}:{nameof(PublishingPointOptions.DirectSend)}", true);
        var replay = directSend && builder.Configuration.GetValue($"{PublishingPointOptions.Section}:{nameof(PublishingPointOptions.AnswerReplay)}", true);
        // Inline means "on the thread that completed the socket's read": an event thread for players' connections
        // (EventLoopServing), a pool thread for every other connection, so ingest's archive writes and fsyncs never
        // block an event thread.
        var inline = builder.Configuration.GetValue($"{PublishingPointOptions.Section}:{nameof(PublishingPointOptions.InlineScheduling)}", true);
        var eventLoop = inline && Transport.EventLoop.Supported
            && builder.Configuration.GetValue($"{PublishingPointOptions.Section}:{nameof(PublishingPointOptions.EventLoopServing)}", true);
        if (eventLoop)
        {
            Transport.EventLoop.UseThreadPerCore();
        }

        ConfigureSockets(builder, inline);
        var limits = ConnectionLimitSettings(builder.Configuration, logger);
        var kernelUnsent = KernelUnsentBytes(builder.Configuration, limits.MaxConnections, logger);
        Func<Microsoft.AspNetCore.Connections.ConnectionDelegate, Microsoft.AspNetCore.Connections.ConnectionDelegate>? perAddress = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Kestrel binds only its endpoints and certificates from its section; its limits are bound here.
            builder.Configuration.GetSection("Kestrel:Limits").Bind(kestrel.Limits);
            if (limits.MaxConnections is { } max)
            {
                kestrel.Limits.MaxConcurrentConnections = max;
            }

            // Segments are written whole from memory: a larger response buffer lets one write hand a whole
            // segment to the socket instead of waiting on flow control every 64 KB.
            kestrel.Limits.MaxResponseBufferSize = 1024 * 1024;
            var minResponseRate = builder.Configuration.GetValue($"{PublishingPointOptions.Section}:{nameof(PublishingPointOptions.MinResponseBytesPerSecond)}", new PublishingPointOptions().MinResponseBytesPerSecond);
            kestrel.Limits.MinResponseDataRate = minResponseRate > 0 ? new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(minResponseRate, TimeSpan.FromSeconds(5)) : null;
            // No "Server: Kestrel" on every response: it tells an attacker the stack and costs bytes on every segment.
            kestrel.AddServerHeader = false;
            if (eventLoop)
            {
                // A TLS handshake (a millisecond of CPU) would hold up every player of its event thread; TLS connections
                // stay on the pool from before their handshake (the CDN or proxy in front usually terminates TLS).
                kestrel.ConfigureHttpsDefaults(https => https.OnAuthenticate = (connection, _) => connection.Features.Get<Transport.EventLoop.EventLoopConnection>()?.Leave());
            }

            kestrel.ConfigureEndpointDefaults(listen =>
            {
                // First: a connection refused costs nothing more. One count for every endpoint: a client's connections
                // to the HTTP and the HTTPS port are one client's.
                perAddress ??= Transport.ConnectionLimits.Connections(limits.PerAddress, limits.TrustedProxies, kestrel.ApplicationServices.GetService<Transport.TransportMetrics>(),
                    kestrel.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(Transport.ConnectionLimits).FullName!));
                listen.Use(perAddress);
                if (kernelUnsent > 0)
                {
                    listen.Use(Transport.KernelSendQueue.Connections(kernelUnsent));
                }

                if (eventLoop)
                {
                    listen.Use(Transport.EventLoop.Connections());
                }

                if (directSend)
                {
                    listen.Use(Transport.DirectSend.Connections(kestrel.ApplicationServices.GetService<Transport.TransportMetrics>(), kestrel.ApplicationServices.GetService<Transport.UnsentAnswers>()));
                }

                if (replay)
                {
                    // Last: it writes to DirectSend's output, and Kestrel (or TLS) reads what it hands on.
                    listen.Use(Transport.AnswerReplay.Connections(kestrel.ApplicationServices.GetRequiredService<Observability.ReplayedAnswers>(),
                        kestrel.ApplicationServices.GetService<Transport.TransportMetrics>(), kestrel.Limits.KeepAliveTimeout, kestrel.Limits.MinResponseDataRate?.BytesPerSecond ?? 0,
                        new Transport.HeadLimits(kestrel.Limits.MaxRequestLineSize, kestrel.Limits.MaxRequestHeadersTotalSize, kestrel.Limits.MaxRequestHeaderCount)));
                }
            });
        });
        return eventLoop;
    }

    /// <summary>Kestrel's socket transport: inline completions, and the receive blocks a connection reads into.</summary>
    private static void ConfigureSockets(WebApplicationBuilder builder, bool inline)
    {
        var upFront = builder.Configuration.GetValue($"{PublishingPointOptions.Section}:{nameof(PublishingPointOptions.ReceiveBufferUpFront)}", true);
        var receiveBlock = builder.Configuration.GetValue($"{PublishingPointOptions.Section}:{nameof(PublishingPointOptions.ReceiveBlockKilobytes)}", 16);
        if (receiveBlock != 4)
        {
            builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>>(new Transport.ReceiveBlockPoolFactory(Math.Clamp(receiveBlock, 4, 64) * 1024)); // out of range: refused at start (the options' rules)
        }

        builder.WebHost.UseSockets(sockets =>
        {
            sockets.UnsafePreferInlineScheduling = inline;
            sockets.WaitForDataBeforeAllocatingBuffer = !upFront;
        });
    }

    /// <summary>KernelUnsentKilobytes in bytes, lowered so that the server's most connections hold at most half the kernel's TCP memory.</summary>
    private static int KernelUnsentBytes(ConfigurationManager configuration, long? defaultMaxConnections, Serilog.ILogger logger)
    {
        var cap = configuration.GetValue($"{PublishingPointOptions.Section}:{nameof(PublishingPointOptions.KernelUnsentKilobytes)}", new PublishingPointOptions().KernelUnsentKilobytes) * 1024;
        var connections = configuration["Kestrel:Limits:MaxConcurrentConnections"] is { } configured
            ? long.TryParse(configured, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var max) ? max : null
            : defaultMaxConnections;
        var kernel = Transport.KernelSendQueue.KernelTcpMemoryBytes();
        var bytes = Transport.KernelSendQueue.PerConnection(cap, connections, kernel);
        if (bytes != cap)
        {
            logger.ForContext("SourceContext", typeof(Transport.KernelSendQueue).FullName).Information(
                "At most {Bytes} bytes unsent in the kernel per connection (PublishingPoint:KernelUnsentKilobytes {Cap} KB, lowered so that {Connections} connections hold at most half of the kernel's TCP memory, {KernelBytes} bytes)",
                bytes, cap / 1024, connections, kernel);
        }

        return bytes;
    }

    /// <summary>
    /// The per-address limit, the trusted proxies it spares, and the server's total when the configuration sets none
    /// (Kestrel:Limits:MaxConcurrentConnections): under the process's file limit, which archive files and the spool share.
    /// </summary>
    private static (int PerAddress, System.Net.IPNetwork[] TrustedProxies, long? MaxConnections) ConnectionLimitSettings(ConfigurationManager configuration, Serilog.ILogger logger)
    {
        var section = configuration.GetSection(PublishingPointOptions.Section);
        var defaults = new PublishingPointOptions();
        var perAddress = section.GetValue(nameof(PublishingPointOptions.MaxConnectionsPerAddress), defaults.MaxConnectionsPerAddress);
        var trusted = ClientNetwork.Trusted(section.GetSection(nameof(PublishingPointOptions.TrustedProxies)).Get<string[]>() ?? []);
        if (configuration["Kestrel:Limits:MaxConcurrentConnections"] is not null)
        {
            return (perAddress, trusted, null);
        }

        var fileLimit = Transport.ConnectionLimits.FileLimit();
        var max = Transport.ConnectionLimits.DefaultMaxConnections(fileLimit,
            section.GetValue(nameof(PublishingPointOptions.MaxSpooledFiles), defaults.MaxSpooledFiles),
            section.GetValue(nameof(PublishingPointOptions.MaxOpenArchiveFiles), defaults.MaxOpenArchiveFiles));
        if (max is { } value)
        {
            logger.ForContext("SourceContext", typeof(Transport.ConnectionLimits).FullName).Information(
                "At most {MaxConnections} connections (the open-file limit {FileLimit} less the spool's, the archive's and {OtherFiles} other files; Kestrel:Limits:MaxConcurrentConnections sets it), {PerAddress} per client address",
                value, fileLimit, Transport.ConnectionLimits.OtherFiles, perAddress);
        }

        return (perAddress, trusted, max);
    }

    /// <summary>
    /// X-Forwarded-For and -Proto are taken only from the configured PublishingPoint:TrustedProxies (not from loopback by
    /// default, as the framework would: a proxy on the same host must not make every client look local).
    /// </summary>
    private static ForwardedHeadersOptions ForwardedHeaders(string[] trustedProxies)
    {
        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor | Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedProto,
            ForwardLimit = 2,
        };
        options.KnownIPNetworks.Clear();
        options.KnownProxies.Clear();
        foreach (var network in ClientNetwork.Trusted(trustedProxies))
        {
            options.KnownIPNetworks.Add(network);
        }

        return options;
    }

    /// <summary>One line per reason at Fatal level, then the exception Program turns into a non-zero exit code.</summary>
    private static void RefuseUnsafe(Serilog.Core.Logger logger, IReadOnlyList<string> refusals)
    {
        if (refusals.Count == 0)
        {
            return;
        }

        var log = logger.ForContext("SourceContext", typeof(PublishingPointHosting).FullName);
        foreach (var refusal in refusals)
        {
            log.Fatal("Refusing to start: {Reason}", refusal);
        }

        logger.Dispose();
        throw new StartupRefusedException(string.Join(Environment.NewLine, refusals));
    }

    /// <summary>
    /// Where appsettings.json and the default data folder are: --contentRoot when given; else, from a checkout, the
    /// repository root (the folder with PublishingPoint.sln and appsettings.json, whichever subfolder `dotnet run`
    /// starts in); else the current folder when it has appsettings.json; else the folder of the program.
    /// </summary>
    private static string? ContentRoot(string[] args)
    {
        if (args.Any(a => a.StartsWith("--contentRoot", StringComparison.OrdinalIgnoreCase)))
        {
            return null;
        }

        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PublishingPoint.sln")) && File.Exists(Path.Combine(dir.FullName, "appsettings.json")))
            {
                return dir.FullName;
            }
        }

        return File.Exists(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json")) ? Directory.GetCurrentDirectory() : AppContext.BaseDirectory;
    }

    public static IServiceCollection AddPublishingPoints(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PublishingPointOptions>().Bind(configuration.GetSection(PublishingPointOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PublishingPointOptions>, PublishingPointOptionsValidator>();
        services.AddOpenApi();
        // Endpoints that require CORS are also reached past the CORS middleware (requests without an Origin, above): the
        // check that CORS metadata met its middleware would refuse those. No endpoint carries authorization metadata.
        services.Configure<Microsoft.AspNetCore.Routing.RouteOptions>(routing => routing.SuppressCheckForUnhandledSecurityMetadata = true);
        services.AddCors(cors => cors.AddPolicy(Delivery.DeliveryCors.Policy, policy => Delivery.DeliveryCors.Configure(policy,
            configuration.GetSection($"{PublishingPointOptions.Section}:{nameof(PublishingPointOptions.CorsOrigins)}").Get<string[]>() ?? [])));
        services.AddMetrics();
        services.AddSingleton<IngestMetrics>();
        services.AddSingleton<Delivery.ShiftedOutputs>();
        services.AddSingleton<Delivery.DeliveryMetrics>();
        services.AddSingleton<Transport.TransportMetrics>();
        services.AddSingleton<Observability.PointMetrics>();
        services.AddSingleton<Publishing.PublishMetrics>();
        services.AddSingleton<Observability.MetricsExport>();
        services.AddSingleton<Observability.HealthResponses>();
        services.AddHealthChecks()
            .AddCheck<Observability.RecoveredCheck>("archives", tags: [Observability.HealthResponses.ReadyTag])
            .AddCheck<Observability.DataFolderCheck>("data folder", tags: [Observability.HealthResponses.ReadyTag])
            .AddCheck<Observability.ObjectStoreCheck>("object store", tags: [Observability.HealthResponses.ReadyTag]);
        services.AddSingleton<Observability.DataFolderCheck>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IPointFinalizer, PointFinalizer>();
        services.AddSingleton<PointRegistry>();
        services.AddSingleton<IngestMemory>();
        services.AddSingleton<IngestEndpoint>();
        services.AddSingleton<ContinuedIngest>();
        services.AddSingleton<SegmentIngestEndpoint>();
        services.AddSingleton<SmoothDelivery>();
        services.AddSingleton<Transport.SegmentSpool>();
        services.AddSingleton<Transport.UnsentAnswers>();
        services.AddSingleton<Delivery.ProductionLane>();
        services.AddSingleton<Delivery.SegmentCache>();
        services.AddSingleton<Delivery.AnswerStore>();
        services.AddSingleton<Observability.ReplayedAnswers>();
        services.AddSingleton<HeldRequests>();
        services.AddSingleton<HlsDelivery>();
        services.AddSingleton<DashDelivery>();
        services.AddSingleton<PointRequestRouter>();
        services.AddSingleton<ArchiveRecovery>();
        services.AddHostedService(sp => sp.GetRequiredService<ArchiveRecovery>());
        services.AddSingleton<ClipWriter>();
        services.AddHostedService<FrontDoor>();
        services.AddHostedService<Observability.RejectedConnectionsLog>();
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<PublishingPointOptions>>().Value;
            return new WrongSecrets(options.MaxWrongSecretsPerMinute, ClientNetwork.Trusted(options.TrustedProxies), sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<WrongSecrets>>());
        });
        Publishing.PublishingServices.AddPublishing(services, configuration);
        return services;
    }

    public static IEndpointRouteBuilder MapPublishingPoints(this IEndpointRouteBuilder endpoints)
    {
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<PublishingPointOptions>>().Value;
        var operatorOnly = new Admin.AdminAuthorization(options.AdminApiKey);
        endpoints.MapOpenApi().WithMetadata(operatorOnly);
        endpoints.MapScalarApiReference(scalar => scalar.WithTitle("PublishingPoint operator API")).WithMetadata(operatorOnly);
        // The instruments that are only observed exist once these are made; then the exporter listens to them all.
        _ = endpoints.ServiceProvider.GetRequiredService<Observability.PointMetrics>();
        _ = endpoints.ServiceProvider.GetRequiredService<Publishing.PublishMetrics>();
        _ = endpoints.ServiceProvider.GetRequiredService<Delivery.DeliveryMetrics>();
        _ = endpoints.ServiceProvider.GetRequiredService<Transport.TransportMetrics>();
        _ = endpoints.ServiceProvider.GetRequiredService<Observability.MetricsExport>();
        endpoints.MapGet("/metrics", Observability.MetricsExport.WriteAsync).WithMetadata(operatorOnly).ExcludeFromDescription();
        endpoints.MapMethods("/health/live", [HttpMethods.Get, HttpMethods.Head], Observability.HealthResponses.LiveAsync).ExcludeFromDescription();
        var health = endpoints.ServiceProvider.GetRequiredService<Observability.HealthResponses>();
        endpoints.MapMethods("/health/ready", [HttpMethods.Get, HttpMethods.Head], (HttpContext context) => health.ReadyAsync(context, Admin.AdminAuthorization.Allowed(context, options.AdminApiKey, out _)))
            .ExcludeFromDescription();
        Admin.PointsApi.Map(endpoints, options.AdminApiKey);
        Publishing.PublishApi.Map(endpoints, options.AdminApiKey);
        endpoints.MapMethods("/", [HttpMethods.Get, HttpMethods.Head], FrontDoor.Answer).ExcludeFromDescription();
        var router = endpoints.ServiceProvider.GetRequiredService<PointRequestRouter>();
        endpoints.MapMethods(DashDelivery.TimePath, [HttpMethods.Get, HttpMethods.Head], DashDelivery.TimeAsync).RequireCors(Delivery.DeliveryCors.Policy);
        endpoints.MapMethods("/{**path}", [HttpMethods.Get, HttpMethods.Head, HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete], router.HandleAsync)
            .RequireCors(Delivery.DeliveryCors.Policy);
        return endpoints;
    }
}
