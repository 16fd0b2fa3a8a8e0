// Generated from the spec files in Tests/Fixtures/specs/cmms (see SOURCES.md there) by reading
// them the way `EDMXModel.load` and `OpenAPIBody.load` do; `SpecConformanceTests` checks that these
// tables equal what those loaders read from the files, so a change to either shows.
//
// These are what `millwright emulate` validates against: an installed binary has no spec files
// beside it, so the emulators carry the parts of the official contracts they need as data.

extension SAPPMEmulator {
    // Lines: `EntitySet|EntityType|Property:EdmType:MaxLength:flags, …` (flags: k key, n not
    // nullable, c not creatable, u not updatable); see `EDMXModel.embedded`.
    /// Every property of `MaintenanceNotification` in `sap-API_MAINTNOTIFICATION.edmx.xml`, without the customer extension `ZZ1_work_test_NTF` (113 properties).
    public static let embeddedNotification = [
        """
        MaintenanceNotification|MaintenanceNotificationType|
        MaintenanceNotification:String:12:kncu,MaintNotifInternalID:String:22:cu,NotificationText:String:40:n,
        MaintPriority:String:1:,NotificationType:String:2:u,NotifProcessingPhase:String:1:cu,
        NotifProcessingPhaseDesc:String:60:cu,MaintPriorityDesc:String:20:cu,CreationDate:DateTime::cu,
        LastChangeTime:Time::cu,LastChangeDate:DateTime::cu,LastChangeDateTime:DateTimeOffset::cu,
        CreationTime:Time::cu,ReportedByUser:String:12:,ReporterFullName:String:80:cu,PersonResponsible:String:12:,
        MalfunctionEffect:String:1:,MalfunctionEffectText:String:40:cu,MalfunctionStartDate:DateTime::,
        MalfunctionStartTime:Time::,MalfunctionEndDate:DateTime::,MalfunctionEndTime:Time::,
        MaintNotificationCatalog:String:1:cu,MaintNotificationCode:String:4:,MaintNotificationCodeGroup:String:8:,
        CatalogProfile:String:9:cu,NotificationCreationDate:DateTime::,NotificationCreationTime:Time::,
        NotificationTimeZone:String:6:cu,RequiredStartDate:DateTime::,RequiredStartTime:Time::,
        RequiredEndDate:DateTime::,RequiredEndTime:Time::,LatestAcceptableCompletionDate:DateTime::,
        MaintenanceObjectIsDown:Boolean::,MaintNotificationLongText:String::cu,MaintNotifLongTextForEdit:String:1333:,
        MaintRequestEditableLongText:String::,TechnicalObject:String:40:,TechObjIsEquipOrFuncnlLoc:String:20:,
        TechnicalObjectLabel:String:40:cu,MaintenancePlanningPlant:String:4:,MaintenancePlannerGroup:String:3:,
        PlantSection:String:3:,ABCIndicator:String:1:cu,SuperiorTechnicalObject:String:40:cu,
        SuperiorTechnicalObjectName:String:40:cu,SuperiorObjIsEquipOrFuncnlLoc:String:20:cu,
        SuperiorTechnicalObjectLabel:String:40:cu,ManufacturerPartTypeName:String:20:cu,
        TechObjIsEquipOrFuncnlLocDesc:String:40:cu,FunctionalLocation:String:30:cu,
        FunctionalLocationLabelName:String:40:cu,TechnicalObjectDescription:String:40:cu,AssetLocation:String:10:,
        LocationName:String:40:cu,BusinessArea:String:4:cu,CompanyCode:String:4:cu,
        TechnicalObjectCategory:String:1:cu,TechnicalObjectType:String:10:cu,MainWorkCenterPlant:String:4:,
        MainWorkCenter:String:8:,PlantName:String:30:cu,MaintenancePlannerGroupName:String:18:cu,
        MaintenancePlant:String:4:,LocationDescription:String:50:,MainWorkCenterText:String:40:cu,
        MainWorkCenterPlantName:String:30:cu,MaintenancePlantName:String:30:cu,
        PlantSectionPersonRespName:String:14:cu,ABCIndicatorDesc:String:20:cu,PersonResponsibleName:String:35:cu,
        MaintenanceOrder:String:12:,MaintenanceOrderType:String:4:cu,ConcatenatedActiveSystStsName:String:224:cu,
        MaintNotifProcessingContext:String:2:,MaintenanceActivityType:String:3:,
        MaintObjDowntimeDurationUnit:String:3:,MaintObjectDowntimeDuration:Double::,MaintenancePlan:String:12:cu,
        MaintenanceItem:String:16:cu,TaskListGroup:String:8:cu,TaskListGroupCounter:String:2:cu,
        MaintenancePlanCallNumber:Int32::cu,MaintenanceTaskListType:String:1:cu,TaskList:String:13:,
        NotificationReferenceDate:DateTime::,NotificationReferenceTime:Time::,NotificationCompletionDate:DateTime::cu,
        CompletionTime:Time::cu,AssetRoom:String:8:,MaintNotifExtReferenceNumber:String:20:,
        MaintNotifRejectionReasonCode:String:3:cu,MaintNotifRejectionRsnCodeTxt:String:40:cu,
        MaintNotifDetectionCatalog:String:2:cu,MaintNotifDetectionCode:String:4:,
        MaintNotifDetectionCodeText:String:40:cu,MaintNotifDetectionCodeGroup:String:8:,
        MaintNotifDetectionCodeGrpTxt:String:40:cu,MaintNotifProcessPhaseCode:String:2:cu,
        MaintNotifProcessSubPhaseCode:String:4:cu,EAMProcessPhaseCodeDesc:String:60:cu,
        EAMProcessSubPhaseCodeDesc:String:40:cu,CreationDateTime:DateTimeOffset::cu,
        MalfunctionStartDateTime:DateTimeOffset::cu,MalfunctionEndDateTime:DateTimeOffset::cu,
        NotificationCreationDateTime:DateTimeOffset::cu,MaintNotifRqdStartDateTime:DateTimeOffset::cu,
        MaintNotifRqdEndDateTime:DateTimeOffset::,PreviousFinalDueDate:DateTime::cu,
        OriglLtstAccptblCompletionDate:DateTime::cu,MaintenanceRevision:String:8:,CreatedByUser:String:12:cu
        """,
    ]

    /// Every property of `MaintenanceOrder` in `sap-API_MAINTENANCEORDER-v2.edmx.xml` (101 properties).
    public static let embeddedOrder = [
        """
        MaintenanceOrder|MaintenanceOrderType|
        MaintenanceOrder:String:12:knu,MaintOrderRoutingNumber:String:10:,MaintenanceOrderType:String:4:u,
        MaintenanceOrderDesc:String:40:,MaintOrdBasicStartDateTime:DateTimeOffset::,
        MaintOrdBasicEndDateTime:DateTimeOffset::,MaintOrdBasicStartDate:DateTime::cu,MaintOrdBasicStartTime:Time::cu,
        MaintOrdBasicEndDate:DateTime::cu,MaintOrdBasicEndTime:Time::cu,
        MaintOrdSchedldBscStrtDateTime:DateTimeOffset::cu,MaintOrdSchedldBscEndDateTime:DateTimeOffset::cu,
        ScheduledBasicStartDate:DateTime::cu,ScheduledBasicStartTime:Time::cu,ScheduledBasicEndDate:DateTime::cu,
        ScheduledBasicEndTime:Time::cu,MaintOrderReferenceDateTime:DateTimeOffset::cu,
        MaintOrderReferenceDate:DateTime::cu,MaintOrderReferenceTime:Time::cu,
        MainWorkCompletedDateTime:DateTimeOffset::cu,MaintenanceNotification:String:12:,
        OrdIsNotSchedldAutomatically:String:1:,ControllingArea:String:4:cu,MainWorkCenterInternalID:String:8:,
        MainWorkCenterTypeCode:String:2:cu,MainWorkCenter:String:8:,MainWorkCenterPlant:String:4:,
        WorkCenterInternalID:String:8:,WorkCenterTypeCode:String:2:cu,WorkCenter:String:8:,
        MaintenancePlanningPlant:String:4:u,MaintenancePlant:String:4:,Assembly:String:40:,
        MaintOrdProcessPhaseCode:String:2:cu,MaintOrdProcessSubPhaseCode:String:4:cu,BusinessArea:String:4:,
        CompanyCode:String:4:cu,CostCenter:String:10:,CostingSheet:String:6:,ReferenceElement:String:40:,
        FunctionalArea:String:16:,AdditionalDeviceData:String:40:,Equipment:String:18:,EquipmentName:String:40:cu,
        FunctionalLocation:String:30:,MaintenanceOrderPlanningCode:String:1:,MaintenancePlannerGroup:String:3:,
        MaintenanceActivityType:String:3:,MaintPriority:String:1:,MaintPriorityType:String:2:cu,
        OrderProcessingGroup:String:2:cu,ProfitCenter:String:10:,ResponsibleCostCenter:String:10:,
        Currency:String:5:cu,MaintenanceRevision:String:8:,SerialNumber:String:18:,Product:String:40:,
        SuperiorProjectNetwork:String:12:cu,OperationSystemCondition:String:1:,WBSElement:String:24:,
        WBSElementInternalID:String:8:,ProjectInternalID:String:8:,ControllingObjectClass:String:2:,
        MaintenanceOrderInternalID:String:22:cu,MaintenanceObjectList:Int64::cu,
        MaintObjectLocAcctAssgmtNmbr:String:12:cu,AssetLocation:String:10:,AssetRoom:String:8:,PlantSection:String:3:,
        ABCIndicator:String:1:,MaintObjectFreeDefinedAttrib:String:30:,BasicSchedulingType:String:1:,
        LatestAcceptableCompletionDate:DateTime::,MaintOrdPersonResponsible:String:12:,LastChangeByUser:String:12:cu,
        LastChangeDateTime:DateTimeOffset::cu,CreatedByUser:String:12:cu,
        MaintOrderCreationDateTime:DateTimeOffset::cu,OrderHasLongText:Boolean::cu,
        MaintenanceOrderOverheadCode:String:6:,PlannedCostsCostingVariant:String:4:cu,
        ActualCostsCostingVariant:String:4:cu,MaintenancePlan:String:12:cu,MaintenanceCall:Int32::cu,
        MaintenanceItem:String:16:cu,LeadingOrder:String:12:cu,TaskListType:String:1:cu,TaskListGroup:String:8:cu,
        TaskListGroupCounter:String:2:cu,LocAcctAssgmtWBSElement:String:24:,LocAcctAssgmtWBSElmntIntID:String:8:,
        ControllingSettlementProfile:String:6:,LocAcctAssgmtBusinessArea:String:4:,
        LocAcctAssgmtControllingArea:String:4:cu,LocAcctAssgmtCompanyCode:String:4:,
        MaintOrderProcessingContext:String:2:u,SystemStatusText:String:40:cu,UserStatusText:String:40:cu,
        TechnicalObject:String:40:cu,TechnicalObjectLabel:String:40:cu,TechObjIsEquipOrFuncnlLoc:String:20:cu
        """,
    ]

    /// Every property of `AttachmentContentSet` in `sap-API_CV_ATTACHMENT_SRV.edmx.xml` (30 properties).
    public static let embeddedAttachment = [
        """
        AttachmentContentSet|AttachmentContent|
        DocumentInfoRecordDocType:String:3:kncu,DocumentInfoRecordDocNumber:String:25:kncu,
        DocumentInfoRecordDocVersion:String:2:kncu,DocumentInfoRecordDocPart:String:3:kncu,
        LogicalDocument:String:32:kncu,ArchiveDocumentID:String:40:kncu,LinkedSAPObjectKey:String:90:kncu,
        BusinessObjectTypeName:String:40:kncu,SemanticObject:String:40:cu,WorkstationApplication:String:3:cu,
        FileSize:String:12:cu,FileName:String:255:cu,DocumentURL:String:4096:cu,MimeType:String:128:u,
        Content:Binary::u,CreatedByUser:String:12:cu,CreatedByUserFullName:String:80:cu,CreationDateTime:DateTime::cu,
        BusinessObjectType:String:40:cu,LastChangedByUser:String:12:cu,LastChangedByUserFullName:String:80:cu,
        ChangedDateTime:DateTime::cu,StorageCategory:String:10:cu,ArchiveLinkRepository:String:2:cu,
        SAPObjectType:String:30:cu,SAPObjectNodeType:String:30:cu,HarmonizedDocumentType:String:40:cu,
        AttachmentDeletionIsAllowed:Boolean::cu,AttachmentRenameIsAllowed:Boolean::cu,Source:String:10:cu
        """,
    ]
}

extension MaintainXEmulator {
    /// The request body of `POST /workorders` in `maintainx-openapi.json`: every property (24), read the
    /// way `OpenAPIBody.load` reads the file (types from `type`, `oneOf` and `anyOf`; `nullable`; string enums).
    public static let embeddedSchema = OpenAPIBody(properties: [
        "assetId": OpenAPIProperty(types: ["integer"], nullable: true),
        "assignees": OpenAPIProperty(types: ["array"]),
        "categories": OpenAPIProperty(types: ["array"]),
        "description": OpenAPIProperty(types: ["string"], nullable: true),
        "dueDate": OpenAPIProperty(types: ["string"], nullable: true),
        "estimatedTime": OpenAPIProperty(types: ["integer"], nullable: true),
        "externalData": OpenAPIProperty(types: ["number", "object", "string"], nullable: true),
        "extraFields": OpenAPIProperty(types: ["object"]),
        "isParent": OpenAPIProperty(types: ["boolean"], nullable: true),
        "locationId": OpenAPIProperty(types: ["integer"], nullable: true),
        "parentId": OpenAPIProperty(types: ["number"], nullable: true),
        "partsUsed": OpenAPIProperty(types: ["array"]),
        "priority": OpenAPIProperty(types: ["string"], enumValues: ["NONE", "LOW", "MEDIUM", "HIGH"]),
        "procedure": OpenAPIProperty(types: ["object"], nullable: true),
        "procedureTemplateId": OpenAPIProperty(types: ["number"], nullable: true),
        "repeatability": OpenAPIProperty(types: ["object"], nullable: true),
        "requesterId": OpenAPIProperty(types: ["integer", "string"], nullable: true),
        "skipRestHook": OpenAPIProperty(types: ["boolean"]),
        "startDate": OpenAPIProperty(types: ["string"], nullable: true),
        "title": OpenAPIProperty(types: ["string"]),
        "type": OpenAPIProperty(types: ["string"], enumValues: ["OTHER", "REACTIVE", "PREVENTIVE"]),
        "vendorIds": OpenAPIProperty(types: ["array"]),
        "workOrderTemplateId": OpenAPIProperty(types: ["integer"], nullable: true),
        "workRequestId": OpenAPIProperty(types: ["integer"], nullable: true),
    ], required: ["title"])
}
